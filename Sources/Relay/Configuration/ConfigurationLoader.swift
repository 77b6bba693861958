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
        var reader = ConfigurationReader(file: file, base: baseDirectory, environment: environment, readsSecrets: readsSecrets)
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
