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
            dataDirectory: URL(fileURLWithPath: dataDirectory), tenants: tenants, journal: journal, logStream: logStream)
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
        let tenantFields = fields(mapping, path: path, allowed: ["name", "include_raw", "xelion"])
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
            includeRaw: includeRaw)
    }

    mutating func journal(_ node: Node?) -> JournalOptions {
        var options = JournalOptions()
        guard let node else { return options }
        guard case .mapping(let mapping) = node else {
            problem(node, "journal", "must be a mapping")
            return options
        }
        let keys = fields(mapping, path: "journal", allowed: ["retention", "dedupe_window", "dedupe_max_entries", "durability"])
        if let value = duration(keys["retention"], path: "journal.retention") { options.retention = value }
        if let value = duration(keys["dedupe_window"], path: "journal.dedupe_window") { options.dedupeWindow = value }
        if let node = keys["dedupe_max_entries"] {
            if let value = node.int, value >= 1000 {
                options.dedupeMaxEntries = value
            } else {
                problem(node, "journal.dedupe_max_entries", "must be a whole number of at least 1000")
            }
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

    mutating func bool(_ node: Node?, path: String) -> Bool? {
        guard let node else { return nil }
        guard let value = node.bool else {
            problem(node, path, "must be true or false")
            return nil
        }
        return value
    }

    /// `90s`, `10m`, `2h`, `7d`.
    mutating func duration(_ node: Node?, path: String) -> Duration? {
        guard let node else { return nil }
        guard let text = node.string, let value = Self.duration(text), value > .zero else {
            problem(node, path, "must be a duration such as 90s, 10m, 2h or 7d")
            return nil
        }
        return value
    }

    static func duration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let scale = units[unit], let number = Int64(text.dropLast()), number >= 0 else {
            return nil
        }
        return .seconds(number * scale)
    }

    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Int)] = [
            ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000),
            ("B", 1),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            return Int(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)).map { $0 * scale }
        }
        return Int(text)
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
