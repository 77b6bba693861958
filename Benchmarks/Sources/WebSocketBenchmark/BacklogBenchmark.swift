import CallEvents
import Foundation
import Logging
import Relay
import Xelion

/// How fast a backlog drains: a journal holding `events` undelivered events of one endpoint (what a
/// CRM outage leaves), then the relay started with that endpoint answering, and the time until the
/// CRM has them all, against a bare async-http-client loop posting as many signed bodies with the
/// same concurrency to the same receiver in the same run:
///
///   Benchmarks/.build/release/WebSocketBenchmark backlog [--events 20000]
///
/// The PBX (the Swift simulator) is connected and sends nothing, so the machine's CPU is the
/// deliverer's and the receiver's, as it is for the loop.
enum BacklogBenchmark {
    static func run(events count: Int) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("backlog-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let peerFiles = URL(fileURLWithPath: "/dev/shm/backlog-bench-\(getpid())")
        try FileManager.default.createDirectory(at: peerFiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: peerFiles) }
        let record = peerFiles.appendingPathComponent("received.jsonl")
        let peers = try SwiftPeers.launch(
            manifest: peerFiles.appendingPathComponent("manifest.jsonl").path, record: record.path,
            secret: DeliveryBenchmark.secret, caOut: directory.appendingPathComponent("ca.pem").path, events: 0)
        defer { kill(peers.process.processIdentifier, SIGKILL) }

        let data = directory.appendingPathComponent("data")
        let endpoint = RelayConfiguration.WebhookEndpoint(url: peers.crm, secrets: [DeliveryBenchmark.secret])
        // Owed to the endpoint, as a relay whose CRM was down leaves them.
        let routes = ["acme": [DeliveryRoute(tenant: "acme", url: peers.crm, types: [])]]
        let ids = try await GeneratedJournal.commit(
            count, to: Journal(directory: data, options: JournalOptions(durability: .normal), routes: routes))
        FileHandle.standardError.write(Data("journal holds \(ids.count) undelivered events; starting the relay\n".utf8))

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let configuration = RelayConfiguration(
            dataDirectory: data,
            tenants: [.simulated("acme", rest: peers.rest, caFile: peers.ca, webhooks: [endpoint])],
            logStream: .init(path: "/dev/null")
        )
        let start = Date()
        let daemon = try RelayDaemon(configuration: configuration, logger: logger)
        let running = Task { try await daemon.run() }
        let counter = DeliveryBenchmark.LineReader(url: record)
        var received = 0
        while received < ids.count {
            try await Task.sleep(for: .milliseconds(100))
            received += counter.countNew()
            if Date().timeIntervalSince(start) > 300 { throw BenchmarkError("only \(received) of \(ids.count) arrived") }
        }
        await daemon.shutdown()
        _ = try? await running.value

        var arrivals: [String: Int] = [:]
        var last = 0.0
        for entry in DeliveryBenchmark.LineReader(url: record).next() {
            guard let body = entry["body"] as? [String: Any], let id = body["id"] as? String,
                let at = entry["received_at"] as? Double
            else { continue }
            arrivals[id, default: 0] += 1
            last = max(last, at)
        }
        guard Set(arrivals.keys) == ids, arrivals.values.allSatisfy({ $0 == 1 }) else {
            throw BenchmarkError(
                "the CRM received \(arrivals.count) of \(ids.count) events, \(arrivals.values.filter { $0 > 1 }.count) more than once"
            )
        }
        let drained = Double(ids.count) / max(last - start.timeIntervalSince1970, 0.001)
        let loop = try await DeliveryBenchmark.bareClientRate(url: peers.crm, secret: DeliveryBenchmark.secret, posts: ids.count)
        FileHandle.standardError.write(
            Data(
                String(
                    format:
                        "a backlog of %d events drained at %.0f/s; bare async-http-client loop: %.0f posts/s; %.2f× its rate\n",
                    ids.count, drained, loop, drained / loop
                ).utf8))
        emitLine(#"{"events":\#(ids.count),"drainedPerSecond":\#(drained),"bareClientPerSecond":\#(loop)}"#)
    }
}
