import Foundation
import Yams

/// Secrets: passwords and webhook signing secrets, read the same way wherever they are asked for.
extension ConfigurationReader {
    /// The secrets named by exactly one of `NAME_env` (environment variables) or `NAME_file` (files,
    /// relative to the configuration file), each one name or, with `list`, a list of names. A file's
    /// text is taken without the line breaks at its ends, which an editor or `echo` adds; anything
    /// else in it is part of the secret. Nil when there is a problem; a value is never echoed.
    mutating func secrets(_ fields: [String: Node], node: Node?, path: String, name: String, list: Bool) -> [String]? {
        let envKey = "\(name)_env"
        let fileKey = "\(name)_file"
        func names(_ node: Node, key: String) -> [String] {
            if list { return self.names(node, path: "\(path).\(key)") }
            return string(node, path: "\(path).\(key)").map { [$0] } ?? []
        }
        switch (fields[envKey], fields[fileKey]) {
        case (nil, nil):
            problem(node, "\(path).\(envKey)", "is missing: give \(envKey) or \(fileKey)")
            return nil
        case (.some(let env), .some):
            problem(env, "\(path).\(envKey)", "give \(envKey) or \(fileKey), not both")
            return nil
        case (.some(let env), nil):
            var values: [String] = []
            for variable in names(env, key: envKey) {
                guard let value = environment[variable], !value.isEmpty else {
                    problem(env, "\(path).\(envKey)", "environment variable \(variable) is not set")
                    return nil
                }
                values.append(value)
            }
            return values.isEmpty ? nil : values
        case (nil, .some(let fileNode)):
            var values: [String] = []
            for file in names(fileNode, key: fileKey) {
                let resolved = file.hasPrefix("/") ? file : base.appendingPathComponent(file).standardizedFileURL.path
                guard let data = FileManager.default.contents(atPath: resolved) else {
                    problem(fileNode, "\(path).\(fileKey)", "file \(resolved) does not exist or cannot be read")
                    return nil
                }
                guard let text = String(data: data, encoding: .utf8) else {
                    problem(fileNode, "\(path).\(fileKey)", "file \(resolved) is not UTF-8 text")
                    return nil
                }
                let value = text.trimmingCharacters(in: .newlines)
                guard !value.isEmpty else {
                    problem(fileNode, "\(path).\(fileKey)", "file \(resolved) is empty")
                    return nil
                }
                values.append(value)
            }
            return values.isEmpty ? nil : values
        }
    }
}
