import CallEvents
import Foundation
import Yams

/// `tenants[].webhooks:`: each CRM endpoint, its signing secrets, headers and retry schedule.
extension ConfigurationReader {
    mutating func webhook(_ node: Node, path: String) -> RelayConfiguration.WebhookEndpoint? {
        guard case .mapping(let mapping) = node else {
            problem(node, path, "must be a mapping with url and secret_env or secret_file")
            return nil
        }
        let keys = fields(
            mapping, path: path,
            allowed: [
                "url", "secret_env", "secret_file", "headers", "headers_env", "types", "ca_file", "timeout", "retry_schedule",
                "concurrency",
            ])
        let url = string(keys["url"], path: "\(path).url")
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil {
            problem(keys["url"], "\(path).url", "must be an http:// or https:// URL")
        } else if let url, url.hasPrefix("http://"), !Self.isLoopback(url) {
            warning(keys["url"], "\(path).url", "is http://: signed events and custom headers cross the network in clear")
        }
        // Not read for commands that do not send (see `readsSecrets`).
        let secrets = readsSecrets ? (self.secrets(keys, node: node, path: path, name: "secret", list: true) ?? []) : []
        if secrets.count > 2 {
            problem(keys["secret_env"] ?? keys["secret_file"], "\(path).secret_env", "give one secret, or two while rotating")
        }
        if !secrets.isEmpty, secrets.count <= 2 {
            do {
                _ = try WebhookSigner(secrets: secrets)
            } catch {
                problem(keys["secret_env"] ?? keys["secret_file"], "\(path).secret_env", error.description)
            }
        }
        var headers: [(name: String, value: String)] = []
        for (key, isEnv) in [("headers", false), ("headers_env", true)] {
            guard let headerNode = keys[key] else { continue }
            guard case .mapping(let pairs) = headerNode else {
                problem(
                    headerNode, "\(path).\(key)",
                    "must be a mapping of header names to \(isEnv ? "environment variables" : "values")")
                continue
            }
            for (nameNode, valueNode) in pairs where readsSecrets {
                guard let name = nameNode.string, let value = valueNode.string else {
                    problem(nameNode, "\(path).\(key)", "header names and values must be text")
                    continue
                }
                if isEnv {
                    guard let resolved = environment[value], !resolved.isEmpty else {
                        problem(valueNode, "\(path).\(key).\(name)", "environment variable \(value) is not set")
                        continue
                    }
                    headers.append((name, resolved))
                } else {
                    headers.append((name, value))
                }
            }
        }
        var types: [String] = []
        if let typesNode = keys["types"] {
            for type in names(typesNode, path: "\(path).types") {
                if CallEventType.all.contains(where: { $0.rawValue == type }) {
                    types.append(type)
                } else {
                    problem(
                        typesNode, "\(path).types",
                        "'\(type)' is not an event type; one of \(CallEventType.all.map(\.rawValue).joined(separator: ", "))")
                }
            }
        }
        let caFile = self.path(keys["ca_file"], path: "\(path).ca_file", mustExist: true)
        let timeout = duration(keys["timeout"], path: "\(path).timeout") ?? RelayConfiguration.WebhookEndpoint.defaultTimeout
        var schedule = RetrySchedule()
        if let scheduleNode = keys["retry_schedule"] {
            let delays = names(scheduleNode, path: "\(path).retry_schedule").compactMap { text -> Duration? in
                guard let value = Self.duration(text) else {
                    problem(scheduleNode, "\(path).retry_schedule", "'\(text)' is not a duration such as 0s, 5s, 5m or 2h")
                    return nil
                }
                return value
            }
            if !delays.isEmpty { schedule.delays = delays }
        }
        var concurrency = RelayConfiguration.WebhookEndpoint.defaultConcurrency
        if let node = keys["concurrency"] {
            if let value = node.int, (1...256).contains(value) {
                concurrency = value
            } else {
                problem(node, "\(path).concurrency", "must be a whole number from 1 to 256")
            }
        }
        guard let url, !secrets.isEmpty || !readsSecrets else { return nil }
        return .init(
            url: url, secrets: secrets, headers: headers, types: types, caFile: caFile, timeout: timeout, schedule: schedule,
            concurrency: concurrency)
    }
}
