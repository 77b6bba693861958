import Foundation
import Yams

/// Walks the YAML tree, collecting problems instead of stopping at the first.
struct ConfigurationReader {
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
