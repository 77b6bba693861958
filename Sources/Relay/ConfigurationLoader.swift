import Foundation
import Xelion
import Yams

/// Reads and checks a YAML configuration file. Unknown or misspelt keys, missing values, unset
/// environment variables, unreadable files: each is reported with the file, line, key and reason.
/// Secrets are read here and never appear in a problem's text.
public struct ConfigurationLoader {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func load(file path: String) throws(ConfigurationError) -> RelayConfiguration {
        let url = URL(fileURLWithPath: path)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ConfigurationError(problems: [
                .init(file: path, line: nil, key: "", reason: "cannot read the file: \(error.localizedDescription)")
            ])
        }
        return try parse(text, file: path, baseDirectory: url.deletingLastPathComponent())
    }

    public func parse(_ text: String, file: String, baseDirectory: URL) throws(ConfigurationError) -> RelayConfiguration {
        var reader = Reader(file: file, base: baseDirectory, environment: environment)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(problems: [.init(file: file, line: nil, key: "", reason: "not valid YAML: \(error)")])
        }
        guard let root, case .mapping(let mapping) = root else {
            throw ConfigurationError(problems: [
                .init(file: file, line: root?.mark?.line, key: "", reason: "the file must be a mapping with data_dir and tenants")
            ])
        }
        let top = reader.fields(mapping, path: "", allowed: ["data_dir", "tenants"])
        let dataDirectory =
            reader.path(top["data_dir"], path: "data_dir", mustExist: false) ?? baseDirectory.appendingPathComponent("data").path
        var tenants: [RelayConfiguration.Tenant] = []
        if let node = top["tenants"] {
            guard case .sequence(let list) = node, !list.isEmpty else {
                reader.problem(node, "tenants", "must be a list with at least one tenant")
                throw ConfigurationError(problems: reader.problems)
            }
            var names = Set<String>()
            for (index, item) in list.enumerated() {
                // Checked before the rest, so a duplicate is reported even when the tenant has other problems.
                if case .mapping(let fields) = item, let name = fields.first(where: { $0.key.string == "name" })?.value.string,
                    !names.insert(name).inserted
                {
                    reader.problem(item, "tenants[\(index)].name", "'\(name)' is used by another tenant")
                }
                if let tenant = reader.tenant(item, path: "tenants[\(index)]") { tenants.append(tenant) }
            }
        } else {
            reader.problem(root, "tenants", "is missing: list at least one tenant")
        }
        guard reader.problems.isEmpty else { throw ConfigurationError(problems: reader.problems) }
        return RelayConfiguration(dataDirectory: URL(fileURLWithPath: dataDirectory), tenants: tenants)
    }
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
private struct Reader {
    let file: String
    let base: URL
    let environment: [String: String]
    var problems: [ConfigurationProblem] = []

    mutating func problem(_ node: Node?, _ key: String, _ reason: String) {
        problems.append(ConfigurationProblem(file: file, line: node?.mark?.line, key: key, reason: reason))
    }

    /// The mapping's values by key; unknown keys are problems, with a suggestion when one is close.
    mutating func fields(_ mapping: Node.Mapping, path: String, allowed: [String]) -> [String: Node] {
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let full = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let suggestion = allowed.min { distance($0, key) < distance($1, key) }.flatMap {
                    distance($0, key) <= 3 ? $0 : nil
                }
                problem(
                    keyNode, full,
                    "unknown key"
                        + (suggestion.map { "; did you mean '\($0)'?" } ?? "; allowed: \(allowed.joined(separator: ", "))"))
                continue
            }
            result[key] = value
        }
        return result
    }

    mutating func string(_ node: Node?, path: String, required: Bool = true) -> String? {
        guard let node else {
            if required { problems.append(.init(file: file, line: nil, key: path, reason: "is missing")) }
            return nil
        }
        guard case .scalar = node, let value = node.string, !value.isEmpty else {
            problem(node, path, "must be a non-empty text")
            return nil
        }
        return value
    }

    /// A path from the file, relative to the configuration file's directory.
    mutating func path(_ node: Node?, path key: String, mustExist: Bool) -> String? {
        guard let value = string(node, path: key, required: false) else { return nil }
        let resolved = value.hasPrefix("/") ? value : base.appendingPathComponent(value).standardizedFileURL.path
        if mustExist && !FileManager.default.isReadableFile(atPath: resolved) {
            problem(node, key, "file \(resolved) does not exist or cannot be read")
        }
        return resolved
    }

    mutating func tenant(_ node: Node, path: String) -> RelayConfiguration.Tenant? {
        guard case .mapping(let mapping) = node else {
            problem(node, path, "must be a mapping with name and xelion")
            return nil
        }
        let tenantFields = fields(mapping, path: path, allowed: ["name", "xelion"])
        let name = string(tenantFields["name"], path: "\(path).name")
        if let name, !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) {
            problem(tenantFields["name"], "\(path).name", "may hold only letters, digits, '-', '_' and '.'")
        }
        guard let xelionNode = tenantFields["xelion"] else {
            problem(node, "\(path).xelion", "is missing")
            return nil
        }
        guard case .mapping(let xelionMapping) = xelionNode else {
            problem(xelionNode, "\(path).xelion", "must be a mapping")
            return nil
        }
        let x = "\(path).xelion"
        let xelion = fields(
            xelionMapping,
            path: x,
            allowed: ["url", "username", "password_env", "password_file", "user_space", "app_key", "ca_file", "events"]
        )
        let url = string(xelion["url"], path: "\(x).url")
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil {
            problem(xelion["url"], "\(x).url", "must be the PBX's REST base URL, such as https://pbx.example.com/api/v1/acme/")
        }
        let username = string(xelion["username"], path: "\(x).username")
        let password = secret(xelion, path: x)
        let userSpace = string(xelion["user_space"], path: "\(x).user_space", required: false) ?? name.map { "callrelay-\($0)" }
        if let userSpace, userSpace.count > 200 {
            problem(xelion["user_space"], "\(x).user_space", "must be at most 200 characters")
        }
        let appKey = string(xelion["app_key"], path: "\(x).app_key", required: false)
        let caFile = self.path(xelion["ca_file"], path: "\(x).ca_file", mustExist: true)
        var events = XelionCallEventType.allCases.map(\.rawValue)
        if let node = xelion["events"] {
            if case .sequence(let list) = node, !list.isEmpty {
                events = []
                for (index, item) in list.enumerated() {
                    guard let event = item.string, !event.isEmpty, event.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                        problem(item, "\(x).events[\(index)]", "must be a notification type name such as callHungUpEvent")
                        continue
                    }
                    events.append(event)
                }
            } else {
                problem(node, "\(x).events", "must be a list of notification types")
            }
        }
        guard let name, let url, let username, let password, let userSpace else { return nil }
        let credentials = XelionCredentials(
            baseURL: url, userName: username, password: password, userSpace: userSpace, appKey: appKey)
        return .init(name: name, xelion: .init(credentials: credentials, caFile: caFile, events: events))
    }

    /// The password, from exactly one of `password_env` or `password_file`; never echoed.
    mutating func secret(_ fields: [String: Node], path: String) -> String? {
        switch (fields["password_env"], fields["password_file"]) {
        case (nil, nil):
            problems.append(
                .init(
                    file: file, line: nil, key: "\(path).password_env", reason: "is missing: give password_env or password_file"))
            return nil
        case (.some(let env), .some):
            problem(env, "\(path).password_env", "give password_env or password_file, not both")
            return nil
        case (.some(let node), nil):
            guard let name = string(node, path: "\(path).password_env") else { return nil }
            guard let value = environment[name], !value.isEmpty else {
                problem(node, "\(path).password_env", "environment variable \(name) is not set")
                return nil
            }
            return value
        case (nil, .some(let node)):
            guard let file = self.path(node, path: "\(path).password_file", mustExist: true) else { return nil }
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
            let value = contents.trimmingCharacters(in: .newlines)
            if value.isEmpty { problem(node, "\(path).password_file", "file \(file) is empty") }
            return value.isEmpty ? nil : value
        }
    }
}

/// Edit distance, for "did you mean" suggestions.
private func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1]
        for (j, y) in b.enumerated() {
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}
