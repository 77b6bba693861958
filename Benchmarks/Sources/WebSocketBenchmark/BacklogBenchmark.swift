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
        let secret = "whsec_" + Data((0..<32).map { UInt8(($0 * 29 + 3) % 256) }).base64EncodedString()
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let (command, arguments) = Driver.pinned(
            me,
            [
                "delivery-peers", "--manifest", peerFiles.appendingPathComponent("manifest.jsonl").path, "--record", record.path,
                "--secret", secret, "--ca-out",
                directory.appendingPathComponent("ca.pem").path, "--events", "0",
            ], core: 1)
        let peers = try DeliveryBenchmark.launch(command, arguments)
        defer { kill(peers.processIdentifier, SIGKILL) }
        let ready = try DeliveryBenchmark.readyLine(peers)
        guard let rest = ready["rest"] as? String, let ca = ready["ca"] as? String, let crmURL = ready["crm"] as? String
        else { throw BenchmarkError("the Swift peers did not start: \(ready)") }

        let data = directory.appendingPathComponent("data")
        let endpoint = RelayConfiguration.WebhookEndpoint(url: crmURL, secrets: [secret])
        let ids = try await fill(data, events: count, url: crmURL)
        FileHandle.standardError.write(Data("journal holds \(ids.count) undelivered events; starting the relay\n".utf8))

        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let credentials = XelionCredentials(
            baseURL: rest + "acme/", userName: "admin", password: "secret", userSpace: "callrelay-bench")
        let configuration = RelayConfiguration(
            dataDirectory: data,
            tenants: [.init(name: "acme", xelion: .init(credentials: credentials, caFile: ca), webhooks: [endpoint])],
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
        let loop = try await DeliveryBenchmark.bareClientRate(url: crmURL, secret: secret, posts: ids.count)
        FileHandle.standardError.write(
            Data(
                String(
                    format:
                        "a backlog of %d events drained at %.0f/s; bare async-http-client loop: %.0f posts/s; %.2f× its rate\n",
                    ids.count, drained, loop, drained / loop
                ).utf8))
        emitLine(#"{"events":\#(ids.count),"drainedPerSecond":\#(drained),"bareClientPerSecond":\#(loop)}"#)
    }

    /// Commits `count` generated events with a delivery owed to `url`, as a relay whose CRM was down
    /// leaves them; returns their ids.
    static func fill(_ data: URL, events count: Int, url: String) async throws -> Set<String> {
        let routes = ["acme": [DeliveryRoute(tenant: "acme", url: url, types: [])]]
        let journal = try Journal(directory: data, options: JournalOptions(durability: .normal), routes: routes)
        let mapping = XelionMapping(tenant: "acme")
        var ids: Set<String> = []
        var batch: [CallEvent] = []
        // Repeated hangups are dropped: generate a fifth more than asked.
        for text in PipelineBenchmark.messages(count + count / 5) where ids.count < count {
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else { continue }
            batch.append(mapping.normalize(event, receivedAt: Date()))
            if batch.count == 1000 || ids.count + batch.count >= count {
                for entry in try await journal.commit(batch).committed { ids.insert(entry.event.id) }
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { for entry in try await journal.commit(batch).committed { ids.insert(entry.event.id) } }
        try await journal.waitUntilDurable()
        return ids
    }
}
