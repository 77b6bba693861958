import ArgumentParser
import Foundation
import XelionSimulator

/// `callrelay simulate`: a Xelion-compatible PBX on this machine, for trying callrelay without one.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a Xelion-compatible PBX simulator (REST session and wss:// call-event socket).",
        discussion: """
            Prints one JSON line when ready: {"rest": BASE_URL, "ca": CA_FILE}. Log in to BASE_URL + \
            TENANT + "/me/login" as the --user accounts (default acme:admin:secret). Calls are played \
            to every connection subscribed to the call events.
            """
    )

    @Option(name: .customLong("user"), help: "An account, TENANT:USER:PASSWORD (repeatable).")
    var users: [String] = []

    @Option(name: .customLong("rest-port"), help: "REST port (default: any free port).")
    var restPort = 0

    @Option(name: .customLong("socket-port"), help: "Socket port (default: any free port).")
    var socketPort = 0

    @Flag(name: .customLong("plain"), help: "http:// and ws:// instead of TLS.")
    var plain = false

    @Option(name: .customLong("ca-out"), help: "Where to write the CA certificate (default: a temporary file).")
    var caOut: String?

    @Option(name: .customLong("rate"), help: "Calls per second once a client has subscribed (0: none).")
    var rate = 1.0

    func run() async throws {
        var configuration = XelionSimulator.Configuration()
        if !users.isEmpty {
            configuration.users = try users.map { spec in
                let parts = spec.split(separator: ":", maxSplits: 2).map(String.init)
                guard parts.count == 3 else { throw ValidationError("--user takes TENANT:USER:PASSWORD, got '\(spec)'") }
                return (parts[0], parts[1], parts[2])
            }
        }
        configuration.tls = !plain
        configuration.restPort = restPort
        configuration.socketPort = socketPort
        let simulator = try await XelionSimulator.start(configuration)
        var caPath: String?
        if let pem = simulator.caPEM {
            let path =
                caOut
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-simulator-ca-\(getpid()).pem").path
            try pem.write(toFile: path, atomically: true, encoding: .utf8)
            caPath = path
        }
        let ready = ["rest": simulator.restBase, "ca": caPath].compactMapValues { $0 }
        try writeJSONLine(ready, options: [.sortedKeys, .withoutEscapingSlashes])
        let interrupted = InterruptHandler { Foundation.exit(0) }
        defer { interrupted.cancel() }
        while true {
            if rate > 0, simulator.fullySubscribedConnections > 0 {
                await simulator.play(calls: 1)
                try await Task.sleep(for: .milliseconds(Int(1000 / rate)))
            } else {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
