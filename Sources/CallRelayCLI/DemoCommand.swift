import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import Relay
import Xelion
import XelionSimulator

/// `callrelay demo`: the whole path on a fresh machine, no account and no configuration.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a simulated PBX and a relay against it, and show the call events flowing.",
        discussion: "Runs until Ctrl-C, or with --calls N until N calls have been played and shown."
    )

    @Option(name: .customLong("calls"), help: "Play this many calls, show them, then exit.")
    var calls: Int?

    @Option(name: .customLong("rate"), help: "Calls per second.")
    var rate = 2.0

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        // The events are the show: the relay's own log stays at warnings unless asked for more.
        var quiet = logging
        if quiet.level == .info { quiet.level = .warning }
        quiet.bootstrap()
        let simulator = try await XelionSimulator.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-demo-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let caFile = directory.appendingPathComponent("simulator-ca.pem").path
        try (simulator.caPEM ?? "").write(toFile: caFile, atomically: true, encoding: .utf8)
        let credentials = XelionCredentials(
            baseURL: simulator.restBase + "acme/", userName: "admin", password: "secret", userSpace: "callrelay-demo")
        let configuration = RelayConfiguration(
            dataDirectory: directory.appendingPathComponent("data"),
            tenants: [.init(name: "acme", xelion: .init(credentials: credentials, caFile: caFile))]
        )
        let shown = NIOLockedValueBox(0)
        writeLine("callrelay demo: a simulated Xelion PBX at \(simulator.restBase), a relay connected to it over wss://.")
        writeLine("Each line is one call event as the relay received it. Ctrl-C stops.\n")
        let relay = try RelayDaemon(configuration: configuration, logger: Logger(label: "callrelay")) { event in
            writeLine(EventLine.text(event))
            shown.withLockedValue { $0 += 1 }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await relay.run() }
            group.addTask {
                while simulator.fullySubscribedConnections == 0 { try await Task.sleep(for: .milliseconds(50)) }
                var played = 0
                var sent = 0
                while calls.map({ played < $0 }) ?? true {
                    sent += await simulator.play(calls: 1)
                    played += 1
                    try await Task.sleep(for: .milliseconds(Int(1000 / max(rate, 0.1))))
                }
                // Every event sent must be shown before the demo ends.
                while shown.withLockedValue({ $0 }) < sent { try await Task.sleep(for: .milliseconds(20)) }
                writeLine("\n\(played) calls, \(sent) events shown.")
                await relay.shutdown()
            }
            try await group.waitForAll()
        }
        await simulator.stop()
    }
}
