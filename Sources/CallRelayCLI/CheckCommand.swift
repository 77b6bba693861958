import ArgumentParser
import Foundation
import Relay

/// `callrelay check --config FILE`: validates a configuration without connecting anywhere.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a configuration file: every problem with its file, line, key and reason."
    )

    @Option(name: .customLong("config"), help: "The YAML configuration file.")
    var config: String

    func run() async throws {
        let configuration = try loadConfiguration(config)
        for warning in configuration.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        let names = configuration.tenants.map(\.name).joined(separator: ", ")
        print(
            "\(config): OK, \(configuration.tenants.count) tenant\(configuration.tenants.count == 1 ? "" : "s") (\(names)), data in \(configuration.dataDirectory.path)"
        )
    }
}

/// Loads a configuration, or prints every problem on stderr and exits 1.
/// - Parameter secrets: false for commands that only read the data directory: they run without the
///   daemon's passwords and webhook secrets.
func loadConfiguration(_ path: String, secrets: Bool = true) throws -> RelayConfiguration {
    do {
        return try ConfigurationLoader(readsSecrets: secrets).load(file: path)
    } catch {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(1)
    }
}
