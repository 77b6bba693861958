import ArgumentParser
import Foundation
import Relay

/// `callrelay deliveries`: each CRM endpoint's backlog, last error and dead letters; `retry` sends
/// the dead letters again.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "Show the webhook backlog, the last error per endpoint and the dead letters; retry dead letters.",
        subcommands: [List.self, Retry.self],
        defaultSubcommand: List.self
    )

    struct Selection: ParsableArguments {
        @Option(name: .customLong("config"), help: "The YAML configuration file.")
        var config: String

        @Option(name: .customLong("tenant"), help: "Only this tenant's endpoints.")
        var tenant: String?

        @Option(name: .customLong("endpoint"), help: "Only this endpoint URL.")
        var endpoint: String?

        /// The journal names of the selected endpoints, and the journal.
        func open() throws -> (Journal, [String]) {
            let configuration = try loadConfiguration(config, secrets: false)
            let keys = configuration.tenants.filter { tenant == nil || $0.name == tenant }.flatMap { tenant in
                tenant.webhooks.filter { endpoint == nil || $0.url == endpoint }.map {
                    DeliveryRoute(tenant: tenant.name, url: $0.url, types: []).endpoint
                }
            }
            do {
                return (try Journal(directory: configuration.dataDirectory, create: false), keys)
            } catch {
                writeError(error.description)
                throw ExitCode(1)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "The backlog per endpoint (the default).")

        @OptionGroup var selection: Selection

        @Flag(name: .customLong("dead"), help: "List the dead letters, one per line.")
        var dead = false

        @Flag(name: .customLong("json"), help: "One JSON object per line.")
        var json = false

        func run() async throws {
            let (journal, keys) = try selection.open()
            if dead {
                for letter in try journal.deadDeliveries() where keys.contains(letter.endpoint) {
                    if json {
                        let object: [String: Any] = [
                            "endpoint": letter.endpoint, "sequence": letter.sequence, "id": letter.eventId,
                            "attempts": letter.attempts, "last_error": letter.lastError ?? "",
                        ]
                        try writeJSONLine(object)
                    } else {
                        writeLine("\(letter.endpoint)  \(letter.eventId)  \(letter.attempts) attempts  \(letter.lastError ?? "")")
                    }
                }
                return
            }
            let backlog = try journal.backlog().filter { keys.contains($0.endpoint) }
            if backlog.isEmpty { writeLine("no deliveries recorded") }
            for endpoint in backlog {
                if json {
                    var object: [String: Any] = [
                        "endpoint": endpoint.endpoint, "pending": endpoint.pending, "delivered": endpoint.delivered,
                        "dead": endpoint.dead,
                    ]
                    if let error = endpoint.lastError { object["last_error"] = error }
                    try writeJSONLine(object)
                } else {
                    var line =
                        "\(endpoint.endpoint)  \(endpoint.pending) pending, \(endpoint.delivered) delivered, \(endpoint.dead) dead"
                    if let oldest = endpoint.oldestPending {
                        line += String(format: ", oldest waiting %.0f s", Date().timeIntervalSince1970 - oldest)
                    }
                    if let error = endpoint.lastError { line += "  last error: \(error)" }
                    writeLine(line)
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry", abstract: "Make the dead letters pending again; a running daemon sends them at once.")

        @OptionGroup var selection: Selection

        func run() async throws {
            let (journal, keys) = try selection.open()
            var total = 0
            for key in keys { total += try await journal.retryDead(endpoint: key) }
            writeLine("\(total) dead letter\(total == 1 ? "" : "s") queued again")
        }
    }
}
