import CallEvents
import Foundation
import Xelion
import Yams

/// Reads and checks a YAML configuration file. Unknown or misspelt keys, missing values, unset
/// environment variables, unreadable files: each is reported with the file, line, key and reason.
/// Secrets are read here and never appear in a problem's text.
public struct ConfigurationLoader {
    public var environment: [String: String]
    /// False for commands that only read the data directory (`tail`, `deliveries`, `gaps`): passwords,
    /// webhook secrets and header values are then neither read nor required, so an operator can run
    /// them without the daemon's secrets. Everything else is checked as for `run`.
    public var readsSecrets: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, readsSecrets: Bool = true) {
        self.environment = environment
        self.readsSecrets = readsSecrets
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
        var reader = Reader(file: file, base: baseDirectory, environment: environment, readsSecrets: readsSecrets)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            // Yams' own description quotes the offending line, which may hold a header value or a
            // secret: only the position and the problem are reported.
            throw ConfigurationError(problems: [Self.yamlProblem(error, file: file)])
        }
        guard let root, case .mapping(let mapping) = root else {
            throw ConfigurationError(problems: [
                .init(file: file, line: root?.mark?.line, key: "", reason: "the file must be a mapping with data_dir and tenants")
            ])
        }
        let top = reader.fields(mapping, path: "", allowed: ["data_dir", "journal", "log_stream", "tenants"])
        let dataDirectory =
            reader.path(top["data_dir"], path: "data_dir", mustExist: false) ?? baseDirectory.appendingPathComponent("data").path
        let journal = reader.journal(top["journal"])
        let logStream = reader.logStream(top["log_stream"])
        var tenants: [RelayConfiguration.Tenant] = []
        if let node = top["tenants"] {
            guard case .sequence(let list) = node, !list.isEmpty else {
                reader.problem(node, "tenants", "must be a list with at least one tenant")
                throw ConfigurationError(problems: reader.problems)
            }
            var names = Set<String>()
            for (index, item) in list.enumerated() {
                if case .mapping(let fields) = item,
                    case .sequence(let hooks)? = fields.first(where: { $0.key.string == "webhooks" })?.value
                {
                    // Two endpoints with one URL share one row per event in the journal: their
                    // deliveries would collide, and each would read the other's rows.
                    var urls = Set<String>()
                    for (hookIndex, hook) in hooks.enumerated() {
                        guard case .mapping(let hookFields) = hook,
                            let url = hookFields.first(where: { $0.key.string == "url" })?.value.string
                        else { continue }
                        if !urls.insert(url).inserted {
                            reader.problem(
                                hook, "tenants[\(index)].webhooks[\(hookIndex)].url",
                                "\(EndpointStateMachine.display(url)) is listed twice for this tenant; list each endpoint once (types: takes several event types)"
                            )
                        }
                    }
                }
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
        return RelayConfiguration(
            dataDirectory: URL(fileURLWithPath: dataDirectory), tenants: tenants, journal: journal, logStream: logStream,
            warnings: reader.warnings)
    }

    /// A YAML syntax error as its position and problem, without the line's text.
    static func yamlProblem(_ error: any Error, file: String) -> ConfigurationProblem {
        if let error = error as? YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
                return .init(file: file, line: mark.line, key: "", reason: "not valid YAML: \(problem) (column \(mark.column))")
            case .composer(_, let problem, let mark, _):
                return .init(file: file, line: mark.line, key: "", reason: "not valid YAML: \(problem) (column \(mark.column))")
            case .reader(let problem, let offset, _, _):
                return .init(
                    file: file, line: nil, key: "", reason: "not valid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
            default:
                break
            }
        }
        return .init(file: file, line: nil, key: "", reason: "not valid YAML")
    }
}

/// Walks the YAML tree, collecting problems instead of stopping at the first.
private struct Reader {
    let file: String
    let base: URL
    let environment: [String: String]
    let readsSecrets: Bool
    var problems: [ConfigurationProblem] = []
    var warnings: [ConfigurationProblem] = []

    mutating func warning(_ node: Node?, _ key: String, _ reason: String) {
        warnings.append(ConfigurationProblem(file: file, line: node?.mark?.line, key: key, reason: reason))
    }

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
        let tenantFields = fields(mapping, path: path, allowed: ["name", "include_raw", "xelion", "webhooks"])
        var webhooks: [RelayConfiguration.WebhookEndpoint] = []
        if let node = tenantFields["webhooks"] {
            if case .sequence(let list) = node {
                for (index, item) in list.enumerated() {
                    if let endpoint = webhook(item, path: "\(path).webhooks[\(index)]") { webhooks.append(endpoint) }
                }
            } else {
                problem(node, "\(path).webhooks", "must be a list of endpoints, each with a url and a secret")
            }
        }
        let includeRaw = bool(tenantFields["include_raw"], path: "\(path).include_raw") ?? false
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
            allowed: [
                "url", "username", "password_env", "password_file", "user_space", "app_key", "ca_file", "events", "time_zone",
            ]
        )
        var timeZone = TimeZone(secondsFromGMT: 0) ?? .gmt
        if let zoneName = string(xelion["time_zone"], path: "\(x).time_zone", required: false) {
            if let zone = TimeZone(identifier: zoneName) {
                timeZone = zone
            } else {
                problem(
                    xelion["time_zone"], "\(x).time_zone",
                    "unknown time zone '\(zoneName)'; use an IANA name such as Europe/Amsterdam or UTC")
            }
        }
        let url = string(xelion["url"], path: "\(x).url")
        if let url, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil {
            problem(xelion["url"], "\(x).url", "must be the PBX's REST base URL, such as https://pbx.example.com/api/v1/acme/")
        } else if let url, url.hasPrefix("http://"), !Self.isLoopback(url) {
            warning(xelion["url"], "\(x).url", "is http://: the PBX password and session tokens cross the network in clear")
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
        return .init(
            name: name, xelion: .init(credentials: credentials, caFile: caFile, events: events, timeZone: timeZone),
            includeRaw: includeRaw, webhooks: webhooks)
    }

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
        let secrets = readsSecrets ? webhookSecrets(keys, node: node, path: path) : []
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

    /// The endpoint's `whsec_` secrets, from `secret_env` or `secret_file` (one, or two while rotating).
    mutating func webhookSecrets(_ keys: [String: Node], node: Node, path: String) -> [String] {
        var secrets: [String] = []
        switch (keys["secret_env"], keys["secret_file"]) {
        case (nil, nil):
            problems.append(
                .init(
                    file: file, line: node.mark?.line, key: "\(path).secret_env",
                    reason: "is missing: give secret_env or secret_file"))
        case (.some(let env), .some):
            problem(env, "\(path).secret_env", "give secret_env or secret_file, not both")
        case (.some(let env), nil):
            for name in names(env, path: "\(path).secret_env") {
                if let value = environment[name], !value.isEmpty {
                    secrets.append(value)
                } else {
                    problem(env, "\(path).secret_env", "environment variable \(name) is not set")
                }
            }
        case (nil, .some(let fileNode)):
            for name in names(fileNode, path: "\(path).secret_file") {
                let resolved = name.hasPrefix("/") ? name : base.appendingPathComponent(name).standardizedFileURL.path
                if let text = try? String(contentsOfFile: resolved, encoding: .utf8),
                    !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                {
                    secrets.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
                } else {
                    problem(fileNode, "\(path).secret_file", "file \(resolved) does not exist, cannot be read or is empty")
                }
            }
        }
        return secrets
    }

    /// One text or a list of texts.
    mutating func names(_ node: Node, path: String) -> [String] {
        if let single = node.string, case .scalar = node { return [single] }
        guard case .sequence(let list) = node else {
            problem(node, path, "must be a text or a list of texts")
            return []
        }
        return list.compactMap { item in
            guard let text = item.string, !text.isEmpty else {
                problem(item, path, "must be a text or a list of texts")
                return nil
            }
            return text
        }
    }

    mutating func journal(_ node: Node?) -> JournalOptions {
        var options = JournalOptions()
        guard let node else { return options }
        guard case .mapping(let mapping) = node else {
            problem(node, "journal", "must be a mapping")
            return options
        }
        let keys = fields(
            mapping, path: "journal",
            allowed: [
                "retention", "dedupe_window", "dedupe_max_entries", "transfer_window", "transfer_max_entries", "durability",
            ])
        if let value = duration(keys["retention"], path: "journal.retention") { options.retention = value }
        if let value = duration(keys["dedupe_window"], path: "journal.dedupe_window") { options.dedupeWindow = value }
        if let value = entryLimit(keys["dedupe_max_entries"], path: "journal.dedupe_max_entries") {
            options.dedupeMaxEntries = value
        }
        if let value = duration(keys["transfer_window"], path: "journal.transfer_window") { options.transferWindow = value }
        if let value = entryLimit(keys["transfer_max_entries"], path: "journal.transfer_max_entries") {
            options.transferMaxEntries = value
        }
        if let text = string(keys["durability"], path: "journal.durability", required: false) {
            if let value = JournalOptions.Durability(rawValue: text) {
                options.durability = value
            } else {
                problem(keys["durability"], "journal.durability", "must be full or normal")
            }
        }
        return options
    }

    mutating func logStream(_ node: Node?) -> RelayConfiguration.LogStreamSettings {
        var settings = RelayConfiguration.LogStreamSettings()
        guard let node else { return settings }
        guard case .mapping(let mapping) = node else {
            problem(node, "log_stream", "must be a mapping")
            return settings
        }
        let keys = fields(mapping, path: "log_stream", allowed: ["path", "format", "max_size", "keep"])
        if let value = string(keys["path"], path: "log_stream.path", required: false) {
            settings.path = value == "-" ? "-" : (path(keys["path"], path: "log_stream.path", mustExist: false) ?? value)
        }
        if let text = string(keys["format"], path: "log_stream.format", required: false) {
            if let format = LogStreamSink.Format(rawValue: text) {
                settings.format = format
            } else {
                problem(keys["format"], "log_stream.format", "must be json or pretty")
            }
        }
        if let node = keys["max_size"] {
            if let text = node.string, let bytes = Self.byteCount(text) {
                settings.maxBytes = bytes
            } else {
                problem(node, "log_stream.max_size", "must be a size such as 100MiB, 500MB or 0 (never rotate)")
            }
        }
        if let node = keys["keep"] {
            if let value = node.int, value >= 0 {
                settings.keep = value
            } else {
                problem(node, "log_stream.keep", "must be a whole number of rotated files, 0 or more")
            }
        }
        return settings
    }

    /// Whether the URL's host is this machine, where clear text never crosses a network.
    static func isLoopback(_ url: String) -> Bool {
        guard let host = URL(string: url)?.host?.lowercased() else { return false }
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    mutating func bool(_ node: Node?, path: String) -> Bool? {
        guard let node else { return nil }
        guard let value = node.bool else {
            problem(node, path, "must be true or false")
            return nil
        }
        return value
    }

    /// `90s`, `10m`, `2h`, `7d`.
    /// A bound on entries kept in memory: a whole number of at least 1000, or a problem.
    mutating func entryLimit(_ node: Node?, path: String) -> Int? {
        guard let node else { return nil }
        guard let value = node.int, value >= 1000 else {
            problem(node, path, "must be a whole number of at least 1000")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node?, path: String) -> Duration? {
        guard let node else { return nil }
        guard let text = node.string, let value = Self.duration(text), value > .zero else {
            problem(node, path, "must be a duration such as 90s, 10m, 2h or 7d")
            return nil
        }
        return value
    }

    /// The longest duration accepted: a hundred years is past any retention, window or timeout, and
    /// far enough below `Int64` nanoseconds that adding it to any clock reading cannot overflow.
    static let longestDuration: Int64 = 100 * 365 * 86400

    /// `90s`, `10m`, `2h`, `7d`; nil for anything else, negative or past ``longestDuration``.
    static func duration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let scale = units[unit], let number = Int64(text.dropLast()), number >= 0 else {
            return nil
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow, seconds <= longestDuration else { return nil }
        return .seconds(seconds)
    }

    /// `100MiB`, `500MB`, `0`; nil for anything else, negative or past what an `Int` holds.
    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("TB", 1_000_000_000_000),
            ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1),
        ]
        var number = text
        var scale = 1
        for (suffix, unit) in units where text.hasSuffix(suffix) {
            number = String(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces))
            scale = unit
            break
        }
        guard let value = Int(number), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: scale)
        return overflow ? nil : bytes
    }

    /// The password, from exactly one of `password_env` or `password_file`; never echoed.
    mutating func secret(_ fields: [String: Node], path: String) -> String? {
        if !readsSecrets { return "" }
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
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                problem(node, "\(path).password_file", "file \(file) is not UTF-8 text")
                return nil
            }
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
