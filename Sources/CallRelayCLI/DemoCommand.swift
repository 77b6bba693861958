import ArgumentParser
import CallEvents
import Foundation
import Logging
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
        var pbx = XelionSimulator.Configuration()
        pbx.openingCalls = [.answered, .attendedTransfer, .missed]
        let simulator = try await XelionSimulator.start(pbx)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-demo-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let caFile = directory.appendingPathComponent("simulator-ca.pem").path
        try (simulator.caPEM ?? "").write(toFile: caFile, atomically: true, encoding: .utf8)
        let credentials = XelionCredentials(
            baseURL: simulator.restBase + "acme/", userName: "admin", password: "secret", userSpace: "callrelay-demo")
        // A local stand-in CRM, with a fresh signing secret, to show the webhook half of the path.
        var random = SystemRandomNumberGenerator()
        let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }).base64EncodedString()
        let receiver = try await WebhookReceiver.start(secret: secret) { _, body, signed in
            guard let event = try? CallEvent.decode(json: body) else { return }
            let type = event.type.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
            writeLine("              CRM ← \(type)  \(event.data.callId)  \(signed ? "signature valid" : "BAD SIGNATURE")")
        }
        let configuration = RelayConfiguration(
            dataDirectory: directory.appendingPathComponent("data"),
            tenants: [
                .init(
                    name: "acme", xelion: .init(credentials: credentials, caFile: caFile),
                    webhooks: [.init(url: receiver.url, secrets: [secret])])
            ]
        )
        writeLine("callrelay demo: a simulated Xelion PBX at \(simulator.restBase), a relay connected to it over wss://,")
        writeLine("and a stand-in CRM at \(receiver.url) that checks each webhook's signature.")
        writeLine("Each line is one normalized event, journaled in \(directory.path)/data before it is shown;")
        writeLine("the repeated hangup of an attended transfer is dropped, and the transfer itself is named.")
        writeLine("Lines with CRM ← are the deliveries as the CRM received them. Ctrl-C stops.\n")
        let relay = try RelayDaemon(
            configuration: configuration, logger: Logger(label: "callrelay"), logStream: false,
            sinks: [try LogStreamSink(path: "-", format: .pretty)])
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
                // Every event sent must be journaled (or dropped as a duplicate) and shown before the end.
                while case let stats = relay.pipeline.stats, stats.committed - stats.transfers + stats.duplicates < sent {
                    try await Task.sleep(for: .milliseconds(20))
                }
                // And delivered to the CRM.
                while receiver.counts.count < relay.pipeline.stats.committed { try await Task.sleep(for: .milliseconds(20)) }
                let stats = relay.pipeline.stats
                func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
                writeLine(
                    "\n\(count(played, "call")), \(count(sent, "PBX event")): \(count(stats.committed, "event")) shown, "
                        + "\(count(stats.duplicates, "duplicate")) dropped, \(count(stats.transfers, "transfer")) found.")
                let crm = receiver.counts
                writeLine(
                    "The CRM received \(count(crm.count, "webhook")), "
                        + (crm.badSignatures == 0 ? "every signature valid." : "\(crm.badSignatures) with a bad signature."))
                writeLine("See them again with: callrelay tail --data-dir \(directory.path)/data")
                await relay.shutdown()
            }
            try await group.waitForAll()
        }
        await receiver.stop()
        await simulator.stop()
    }
}
