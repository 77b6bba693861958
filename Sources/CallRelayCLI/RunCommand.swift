import ArgumentParser
import Foundation
import Logging
import Relay

/// `callrelay run --config FILE`: every tenant on its own connection until SIGINT or SIGTERM.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the relay: one PBX connection per tenant, reconnecting forever.",
        discussion: """
            Every event is journaled in data_dir before it goes to the log stream (log_stream: in the file; \
            JSON Lines on standard output by default). SIGINT or SIGTERM closes every socket with 1001, \
            commits what is queued, logs out and exits 0.
            """
    )

    @Option(name: .customLong("config"), help: "The YAML configuration file.")
    var config: String

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        // A log-stream reader that goes away (`callrelay run | head`) must not kill the daemon: the
        // write fails with EPIPE instead, and the journal still has every event.
        signal(SIGPIPE, SIG_IGN)
        let configuration = try loadConfiguration(config)
        let logger = Logger(label: "callrelay")
        for warning in configuration.warnings {
            logger.warning("configuration: \(warning.key) \(warning.reason)", metadata: ["file": "\(warning.file)"])
        }
        let needed = FileDescriptorLimit.needed(
            tenants: configuration.tenants.count, endpoints: configuration.tenants.reduce(0) { $0 + $1.webhooks.count })
        if let limit = FileDescriptorLimit.raise(to: needed), limit.soft < needed {
            logger.warning(
                "the open-file limit is \(limit.soft) (hard \(limit.hard)); \(configuration.tenants.count) tenants need about \(needed): raise LimitNOFILE in the unit, or ulimit -n"
            )
        }
        let relay: RelayDaemon
        do {
            relay = try RelayDaemon(configuration: configuration, logger: logger)
        } catch {
            // An unreadable journal or log stream: refused at start, with the path and what to do.
            writeError("\(error)")
            throw ExitCode(1)
        }
        try await relay.run()
    }
}
