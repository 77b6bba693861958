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
            writeLine(EventLine.text(event))
        }
        try await relay.run()
    }
}

/// How an event is shown to a person, one line each: time of day (UTC), tenant, what happened, the
/// call, who called whom, and the duration of a hangup.
enum EventLine {
    static let labels = [
        "newCallEvent": "call started", "callConnectedEvent": "connected", "callHungUpEvent": "hung up",
        "missedCallEvent": "missed", "channelHungUpEvent": "channel ended",
    ]

    static func text(_ event: TenantEvent) -> String {
        let call = event.event
        let from = call.caller.phoneNumber ?? call.caller.user ?? "?"
        let to = call.callee.user ?? call.callee.phoneNumber ?? "?"
        let time = event.receivedAt.formatted(.iso8601.time(includingFractionalSeconds: false).timeSeparator(.colon))
        let what = (labels[call.type.rawValue] ?? call.type.rawValue).padding(toLength: 13, withPad: " ", startingAt: 0)
        var line = "\(time)Z  \(event.tenant)  \(what)  \(call.callId)  \(from) → \(to)"
        if let duration = call.duration, call.type == .callHungUpEvent { line += "  \(duration) s" }
        return line
    }
}
