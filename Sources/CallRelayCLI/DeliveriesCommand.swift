import ArgumentParser
import Foundation
import Relay

/// `callrelay deliveries`: each CRM endpoint's backlog, last error and dead letters; `retry` sends
/// the dead letters again; `move` and `drop` deal with rows of endpoints no longer configured.
struct DeliveriesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract:
            "Show the webhook backlog, the last error per endpoint and the dead letters; retry dead letters; move or drop the backlog of an endpoint no longer configured.",
        subcommands: [List.self, Retry.self, Move.self, Drop.self],
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
            let (journal, keys, _) = try openAll()
            return (journal, keys)
        }

        /// The journal, the selected configured endpoints, and every configured endpoint.
        func openAll() throws -> (Journal, [String], Set<String>) {
            try Self.open(config: config, tenant: tenant, endpoint: endpoint)
        }

        static func open(config: String, tenant: String?, endpoint: String?) throws -> (Journal, [String], Set<String>) {
            let configuration = try loadConfiguration(config, secrets: false)
            let all = configuration.tenants.flatMap { tenant in
                tenant.webhooks.map { (tenant.name, $0.url, DeliveryRoute(tenant: tenant.name, url: $0.url, types: []).endpoint) }
            }
            let keys = all.filter { (tenant == nil || $0.0 == tenant) && (endpoint == nil || $0.1 == endpoint) }.map(\.2)
            do {
                return (try Journal(directory: configuration.dataDirectory, create: false), keys, Set(all.map(\.2)))
            } catch {
                writeError(error.description)
                throw ExitCode(1)
            }
        }

        /// An endpoint that is not configured matches the selection by its tenant and URL as written
        /// in its journal name (`TENANT URL`).
        func selects(unconfigured name: String) -> Bool {
            let parts = name.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return tenant == nil && endpoint == nil }
            return (tenant == nil || parts[0] == tenant) && (endpoint == nil || parts[1] == endpoint)
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
            let (journal, keys, configured) = try selection.openAll()
            if dead {
                for letter in try journal.deadDeliveries()
                where keys.contains(letter.endpoint)
                    || (!configured.contains(letter.endpoint) && selection.selects(unconfigured: letter.endpoint))
                {
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
            let backlog = try journal.backlog().filter {
                keys.contains($0.endpoint) || (!configured.contains($0.endpoint) && selection.selects(unconfigured: $0.endpoint))
            }
            if backlog.isEmpty { writeLine("no deliveries recorded") }
            for endpoint in backlog {
                let isConfigured = configured.contains(endpoint.endpoint)
                if json {
                    var object: [String: Any] = [
                        "endpoint": endpoint.endpoint, "pending": endpoint.pending, "delivered": endpoint.delivered,
                        "dead": endpoint.dead, "configured": isConfigured,
                    ]
                    if let error = endpoint.lastError { object["last_error"] = error }
                    try writeJSONLine(object)
                } else {
                    var line =
                        "\(endpoint.endpoint)\(isConfigured ? "" : " (not configured)")  \(endpoint.pending) pending, \(endpoint.delivered) delivered, \(endpoint.dead) dead"
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

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "move",
            abstract: "Move the undelivered deliveries of an endpoint no longer configured to a configured one.",
            discussion: """
                Endpoints are named as `deliveries list` shows them: TENANT URL. Pending and dead deliveries keep \
                their state and their order per call; a running daemon sends the pending ones within seconds.
                """)

        @Option(name: .customLong("config"), help: "The YAML configuration file.")
        var config: String

        @Option(name: .customLong("from"), help: "The endpoint no longer configured, as `deliveries list` names it.")
        var from: String

        @Option(name: .customLong("to"), help: "A configured endpoint, as `deliveries list` names it.")
        var to: String

        func run() async throws {
            let (journal, _, configured) = try Selection.open(config: config, tenant: nil, endpoint: nil)
            guard configured.contains(to) else {
                writeError("--to \(to): not a configured endpoint; configured: \(configured.sorted().joined(separator: ", "))")
                throw ExitCode(2)
            }
            guard !configured.contains(from) else {
                writeError("--from \(from): still configured; its deliveries are sent where they are")
                throw ExitCode(2)
            }
            let moved = try await journal.moveUndelivered(from: from, to: to)
            writeLine("\(moved) deliver\(moved == 1 ? "y" : "ies") moved from \(from) to \(to)")
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "drop",
            abstract: "Drop, on purpose, what an endpoint no longer configured is owed, or the dead letters of configured ones.",
            discussion: """
                With --from, every undelivered delivery of that endpoint (as `deliveries list` names it) is deleted. \
                With --dead, the dead letters of the selected endpoints are deleted, which releases the later events \
                of their calls that waited behind them. The events stay in the journal either way.
                """)

        @OptionGroup var selection: Selection

        @Option(name: .customLong("from"), help: "An endpoint no longer configured, as `deliveries list` names it.")
        var from: String?

        @Flag(name: .customLong("dead"), help: "Drop the dead letters of the selected configured endpoints.")
        var dead = false

        func run() async throws {
            let (journal, keys, configured) = try selection.openAll()
            switch (from, dead) {
            case (let from?, false):
                guard !configured.contains(from) else {
                    writeError("--from \(from): still configured; use --dead to drop its dead letters")
                    throw ExitCode(2)
                }
                let dropped = try await journal.dropUndelivered(endpoint: from, deadOnly: false)
                writeLine("\(dropped) deliver\(dropped == 1 ? "y" : "ies") of \(from) dropped")
            case (nil, true):
                var total = 0
                for key in keys { total += try await journal.dropUndelivered(endpoint: key, deadOnly: true) }
                writeLine("\(total) dead letter\(total == 1 ? "" : "s") dropped")
            default:
                writeError("give either --from ENDPOINT or --dead")
                throw ExitCode(2)
            }
        }
    }
}
