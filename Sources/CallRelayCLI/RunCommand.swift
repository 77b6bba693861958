import ArgumentParser
import Foundation
import Logging
import Relay
import Xelion

/// `callrelay run --config FILE`: every tenant on its own connection until SIGINT or SIGTERM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the relay: one PBX connection per tenant, reconnecting forever.",
        discussion: "SIGINT or SIGTERM closes every socket with 1001, logs out and exits 0."
    )

    @Option(name: .customLong("config"), help: "The YAML configuration file.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let configuration = try loadConfiguration(config)
        let logger = Logger(label: "callrelay")
        let relay = try RelayDaemon(configuration: configuration, logger: logger) { event in
            print(EventLine.text(event))
        }
        try await relay.run()
    }
}

/// How an event is shown to a person, one line each.
enum EventLine {
    static func text(_ event: TenantEvent) -> String {
        let call = event.event
        let from = call.caller.phoneNumber ?? call.caller.user ?? "?"
        let to = call.callee.user ?? call.callee.phoneNumber ?? "?"
        var line = "\(event.receivedAt.formatted(.iso8601))  \(event.tenant)  \(call.type.rawValue)  call \(call.callId)  \(from) → \(to)"
        if let duration = call.duration { line += "  \(duration) s" }
        return line
    }
}
