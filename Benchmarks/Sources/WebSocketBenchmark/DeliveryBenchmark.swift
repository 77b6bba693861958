import AsyncHTTPClient
import CallEvents
import CallRelayCore
import Foundation
import Logging
import NIOCore
import NIOSSL
import Relay
import Xelion

/// End-to-end latency from the PBX sending an event (`xelion_peer.py`'s manifest
/// `sent_at`) to the CRM receiving it (`crm_sink.py`'s `received_at`), through the whole relay with
/// durability on, at a given rate:
///
///   Benchmarks/.build/release/WebSocketBenchmark delivery [--rate 1000] [--seconds 20] [--durability full|normal]
///       [--peers python|swift] [--idle-tenants N] [--timeline]
///
/// Needs `../shared/peer` beside the checkout and the test peers' `.venv` (`./scripts/test` makes it).
enum DeliveryBenchmark {
    /// - Parameter logLevel: the relay's log level; `warning` shows its retries, for a run that
    ///   failed its exactly-once check.
    ///   - timeline: also prints the worst latency of each half second, to tell a stall from a
    ///     steady delay.
    ///   - idleTenants: tenants beside the busy one, subscribed and sent nothing (Swift peers only):
    ///     what the busy tenant's latency owes to them.
    static func run(
        rate: Double, seconds: Double, durability: JournalOptions.Durability, swiftPeers: Bool,
        logLevel: Logger.Level = .error, idleTenants: Int = 0, timeline: Bool = false
    ) async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let python = root.appendingPathComponent(".venv/bin/python").path
        let peers = root.deletingLastPathComponent().appendingPathComponent("shared/peer")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // The peers' own files (a line per event each) go to memory when the machine has a tmpfs, so
        // the disk's writes and flushes are the relay's own.
        let peerFiles =
            FileManager.default.fileExists(atPath: "/dev/shm")
            ? URL(fileURLWithPath: "/dev/shm/delivery-bench-\(getpid())") : directory
        try FileManager.default.createDirectory(at: peerFiles, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: peerFiles) }
        let manifest = peerFiles.appendingPathComponent("manifest.jsonl")
        let record = peerFiles.appendingPathComponent("received.jsonl")
        // Rate 0: as fast as the PBX can send, for `seconds × 1,000` events.
        let events = Int((rate > 0 ? rate : 1000) * seconds)
        let rest: String
        let ca: String
        let crmURL: String
        var processes: [Process] = []
        defer { for process in processes { kill(process.processIdentifier, SIGKILL) } }
        if swiftPeers {
            let peers = try SwiftPeers.launch(
                manifest: manifest.path, record: record.path, secret: secret,
                caOut: directory.appendingPathComponent("ca.pem").path, events: events, rate: rate, idleTenants: idleTenants)
            processes.append(peers.process)
            (rest, ca, crmURL) = (peers.rest, peers.ca, peers.crm)
        } else {
            let (restPort, wsPort, port) = (freePort(), freePort(), freePort())
            let pbx = try launch(
                python,
                [
                    peers.appendingPathComponent("xelion_peer.py").path, "--rest-port", "\(restPort)", "--ws-port", "\(wsPort)",
                    "--ca-out", directory.appendingPathComponent("ca.pem").path, "--manifest", manifest.path,
                ])
            processes.append(pbx)
            let sink = try launch(
                python,
                [
                    peers.appendingPathComponent("crm_sink.py").path, "--port", "\(port)", "--secret", secret, "--record",
                    record.path,
                ])
            processes.append(sink)
            let pbxReady = try readyLine(pbx)
            _ = try readyLine(sink)
            guard let base = pbxReady["rest"] as? String, let caPath = pbxReady["ca"] as? String else {
                throw BenchmarkError("the PBX peer did not start: \(pbxReady)")
            }
            (rest, ca, crmURL) = (base, caPath, "http://127.0.0.1:\(port)/hooks/calls")
        }

        var logger = Logger(label: "bench")
        logger.logLevel = logLevel
        let idle = (0..<idleTenants).map { RelayConfiguration.Tenant.simulated(idleTenantName($0), rest: rest, caFile: ca) }
        if idleTenants > 0 {
            _ = FileDescriptorLimit.raise(to: FileDescriptorLimit.needed(tenants: idleTenants + 1, endpoints: 1))
        }
        let configuration = RelayConfiguration(
            dataDirectory: directory.appendingPathComponent("data"),
            tenants: [.simulated("acme", rest: rest, caFile: ca, webhooks: [.init(url: crmURL, secrets: [secret])])] + idle,
            journal: JournalOptions(durability: durability),
            logStream: .init(path: "/dev/null")
        )
        let daemon = try RelayDaemon(configuration: configuration, logger: logger)
        let running = Task { try await daemon.run() }
        FileHandle.standardError.write(Data("peers up; waiting for the relay to subscribe\n".utf8))
        while daemon.sources.contains(where: { $0.status.state != .subscribed }) { try await Task.sleep(for: .milliseconds(20)) }

        FileHandle.standardError.write(Data("subscribed; playing \(events) events\n".utf8))
        if !swiftPeers {
            // About 4.4 PBX events per generated call with the peer's default mix. Its control
            // endpoints are on its REST port, over TLS with its own CA.
            let origin = rest.replacingOccurrences(of: "/api/v1/", with: "")
            try await post(origin + "/_control/calls?n=\(Int(Double(events) / 4.4))&rate=\(rate / 4.4)", caFile: ca)
        }
        let started = Date()
        var sent: [String: Double] = [:]
        var received: [(key: String, at: Double, relayed: Double)] = []
        // While events flow the harness only counts the CRM's lines (it shares the CPU with the relay
        // and both peers); it parses them once everything has arrived.
        // (Parsing the manifest as it grew took a tenth of this process's CPU, in bursts every half
        // second that showed in the relay's tail latency.)
        let manifestCounter = LineReader(url: manifest), recordCounter = LineReader(url: record)
        var count = 0
        var unique = 0
        var lastCount = -1
        while true {
            try await Task.sleep(for: .milliseconds(500))
            unique += manifestCounter.countNew(skipping: [Array(#""duplicate":true"#.utf8), Array(#""duplicate": true"#.utf8)])
            count += recordCounter.countNew()
            // Transfers come on top of the PBX's unique events.
            if Date().timeIntervalSince(started) > 2, count >= unique, count == lastCount { break }
            lastCount = count
            if Date().timeIntervalSince(started) > seconds + 120 {
                throw BenchmarkError("not every event arrived: \(count) of \(unique)")
            }
        }
        for entry in LineReader(url: manifest).next() where (entry["duplicate"] as? Bool) != true {
            sent[key(entry["notificationType"], entry["callId"], entry["callerFlowId"], entry["calleeFlowId"])] =
                entry["sent_at"] as? Double
        }
        for entry in LineReader(url: record).next() {
            guard let body = entry["body"] as? [String: Any], body["type"] as? String != "call.transferred",
                let data = body["data"] as? [String: Any], let at = entry["received_at"] as? Double
            else { continue }
            let caller = data["caller"] as? [String: Any], callee = data["callee"] as? [String: Any]
            // The relay's own `received_at` (milliseconds) splits the way into PBX → relay and relay → CRM.
            let relayed = (data["received_at"] as? String).flatMap(RFC3339.parse)?.timeIntervalSince1970 ?? .nan
            received.append(
                (key(data["provider_event"], data["call_id"], caller?["flow_id"], callee?["flow_id"]), at, relayed))
        }
        // Exactly once: every unique event the PBX sent, none twice, nothing else.
        guard received.count == sent.count, Set(received.map(\.key)) == Set(sent.keys) else {
            // Kept for a post-mortem: the journal, the PBX's manifest and what the CRM received.
            let kept = FileManager.default.temporaryDirectory.appendingPathComponent("delivery-bench-failed-\(getpid())")
            try? FileManager.default.copyItem(at: directory, to: kept)
            if peerFiles != directory {
                try? FileManager.default.copyItem(at: peerFiles, to: kept.appendingPathComponent("peers"))
            }
            let twice = Dictionary(grouping: received, by: \.key).values.filter { $0.count > 1 }.count
            throw BenchmarkError(
                "the CRM received \(received.count) of the PBX's \(sent.count) unique events (\(twice) more than once); see \(kept.path)"
            )
        }
        await daemon.shutdown()
        _ = try? await running.value
        if timeline {
            // The worst latency of each half second of sending: a stall shows as one bad interval, a
            // slow relay as all of them.
            let first = sent.values.min() ?? 0
            var worst: [Int: Double] = [:]
            for item in received {
                guard let sentAt = sent[item.key] else { continue }
                let interval = Int((sentAt - first) * 2)
                worst[interval] = max(worst[interval] ?? 0, (item.at - sentAt) * 1000)
            }
            let line = worst.sorted { $0.key < $1.key }.map { String(format: "%.1f s: %.0f ms", Double($0.key) / 2, $0.value) }
            FileHandle.standardError.write(Data(("worst latency per half second: " + line.joined(separator: ", ") + "\n").utf8))
        }
        let latencies = received.compactMap { item in sent[item.key].map { (item.at - $0) * 1000 } }.sorted()
        let delivery = received.map { ($0.at - $0.relayed) * 1000 }.filter { !$0.isNaN }.sorted()
        let ingest = received.compactMap { item in sent[item.key].map { (item.relayed - $0) * 1000 } }.filter { !$0.isNaN }
            .sorted()
        func percentile(_ values: [Double], _ p: Double) -> Double {
            values.isEmpty ? 0 : values[min(values.count - 1, Int(Double(values.count) * p))]
        }
        // What the peers managed: the PBX peer falls short of a high rate when it shares the CPU.
        let firstSent = sent.values.min() ?? 0, lastSent = sent.values.max() ?? 0
        let lastReceived = received.map(\.at).max() ?? 0
        let sendRate = Double(sent.count) / max(lastSent - firstSent, 0.001)
        let deliveredRate = Double(received.count) / max(lastReceived - firstSent, 0.001)
        let asked = rate > 0 ? "\(Int(rate))/s" : "full speed"
        let line = String(
            format: """
                %d events asked at \(asked), sent at %.0f/s, delivered at %.0f/s, durability \(durability.rawValue): \
                end-to-end latency p50 %.1f ms, p99 %.1f ms, max %.1f ms \
                (PBX → relay p50 %.1f p99 %.1f; relay → CRM p50 %.1f p99 %.1f)
                """, latencies.count, sendRate, deliveredRate, percentile(latencies, 0.5), percentile(latencies, 0.99),
            latencies.last ?? 0,
            percentile(ingest, 0.5), percentile(ingest, 0.99), percentile(delivery, 0.5), percentile(delivery, 0.99))
        FileHandle.standardError.write(Data((line + "\n").utf8))
        // By the PBX's event type: a call's later events wait for its earlier ones (order per call).
        let byType = Dictionary(grouping: received) { String($0.key.prefix { $0 != "|" }) }
        for (type, items) in byType.sorted(by: { $0.key < $1.key }) {
            let values = items.compactMap { item in sent[item.key].map { (item.at - $0) * 1000 } }.sorted()
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "  %@: %d events, p50 %.1f ms, p99 %.1f ms\n", type, values.count, percentile(values, 0.5),
                        percentile(values, 0.99)
                    ).utf8))
        }
        if swiftPeers && rate == 0 {
            // The limit of the HTTP client here: a bare loop posting as many signed bodies, with the
            // endpoint's concurrency, to the same receiver, in the same run.
            let loopRate = try await bareClientRate(url: crmURL, secret: secret, posts: latencies.count)
            FileHandle.standardError.write(
                Data(
                    String(
                        format:
                            "bare async-http-client loop: %.0f posts/s with %d in flight; the relay delivered at %.2f× its rate\n",
                        loopRate, RelayConfiguration.WebhookEndpoint.defaultConcurrency, deliveredRate / loopRate
                    ).utf8))
            emitLine(#"{"bareClientPerSecond":\#(loopRate),"deliveredPerSecond":\#(deliveredRate)}"#)
        }
        emitLine(
            #"{"events":\#(latencies.count),"rate":\#(rate),"sentPerSecond":\#(sendRate),"deliveredPerSecond":\#(deliveredRate),"durability":"\#(durability.rawValue)","p50Milliseconds":\#(percentile(latencies, 0.5)),"p99Milliseconds":\#(percentile(latencies, 0.99))}"#
        )
    }

    /// Posts per second of `posts` signed event bodies to `url` from one `HTTPClient`, with the default
    /// endpoint concurrency in flight: what the deliverer does, without the journal.
    static func bareClientRate(url: String, secret: String, posts: Int) async throws -> Double {
        let mapping = XelionMapping(tenant: "acme")
        let bodies = PipelineBenchmark.messages(posts).compactMap { text -> (id: String, json: String)? in
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else { return nil }
            let normalized = mapping.normalize(event, receivedAt: Date())
            return (normalized.id, normalized.json())
        }
        let signer = try WebhookSigner(secrets: [secret])
        // The deliverer's own client settings (its pool as wide as the concurrency).
        let endpoint = RelayConfiguration.WebhookEndpoint(url: url, secrets: [secret])
        let client = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: RelayDaemon.webhookClientConfiguration(endpoint))
        let concurrency = endpoint.concurrency
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for index in stride(from: worker, to: bodies.count, by: concurrency) {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.headers.add(name: "User-Agent", value: "callrelay")
                        for header in signer.headers(id: bodies[index].id, timestamp: Date(), body: bodies[index].json) {
                            request.headers.add(name: header.name, value: header.value)
                        }
                        request.body = .bytes(ByteBuffer(string: bodies[index].json))
                        let response = try await client.execute(request, timeout: .seconds(15))
                        _ = try await response.body.collect(upTo: 64 * 1024)
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        try await client.shutdown()
        return Double(bodies.count) / seconds
    }

    /// The webhook secret both sides of the benchmarks use.
    static let secret = "whsec_" + Data((0..<32).map { UInt8(($0 * 29 + 3) % 256) }).base64EncodedString()

    static func idleTenantName(_ index: Int) -> String { String(format: "idle%05d", index) }

    static func key(_ parts: Any?...) -> String { parts.map { ($0 as? String) ?? "-" }.joined(separator: "|") }

    /// The JSON lines appended to a file since the last call.
    final class LineReader {
        let url: URL
        var offset: UInt64 = 0
        var partial = Data()

        init(url: URL) { self.url = url }

        func next() -> [[String: Any]] {
            newLines().compactMap { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
        }

        /// How many complete lines were appended since the last call (reading only those bytes), not
        /// counting lines that contain one of `skipping`. With `memchr` and `memmem`: it runs in the
        /// relay's process while events flow, where `Data`'s generic `split` and `firstRange` took
        /// CPU from the relay and showed in its latency.
        func countNew(skipping: [[UInt8]] = []) -> Int {
            guard let data = newBytes() else { return 0 }
            partial.append(data)
            var count = 0
            var consumed = 0
            partial.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                guard let base = raw.baseAddress else { return }
                var start = 0
                while start < raw.count, let newline = memchr(base + start, 0x0A, raw.count - start) {
                    let end = base.distance(to: UnsafeRawPointer(newline))
                    let skipped = skipping.contains { pattern in
                        pattern.withUnsafeBytes { memmem(base + start, end - start, $0.baseAddress, $0.count) != nil }
                    }
                    if !skipped { count += 1 }
                    start = end + 1
                }
                consumed = start
            }
            partial.removeFirst(consumed)
            return count
        }

        /// The bytes appended since the last call, or nil.
        private func newBytes() -> Data? {
            guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
            defer { try? handle.close() }
            try? handle.seek(toOffset: offset)
            guard let data = try? handle.readToEnd(), !data.isEmpty else { return nil }
            offset += UInt64(data.count)
            return data
        }

        /// The complete lines appended since the last call; a line still being written waits for the next.
        private func newLines() -> [Data.SubSequence] {
            guard let data = newBytes() else { return [] }
            partial.append(data)
            guard let end = partial.lastIndex(of: 0x0A) else { return [] }
            let complete = Data(partial[partial.startIndex..<end])
            partial = Data(partial[(end + 1)...])
            return complete.split(separator: 0x0A, omittingEmptySubsequences: false)
        }
    }

    static func launch(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = Pipe()
        try process.run()
        return process
    }

    static func readyLine(_ process: Process) throws -> [String: Any] {
        guard let pipe = process.standardOutput as? Pipe else { return [:] }
        var data = Data()
        while true {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { break }
            data.append(byte)
        }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    static func post(_ url: String, caFile: String) async throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(caFile)]
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        do {
            _ = try await client.execute(request, timeout: .seconds(10))
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func freePort() -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// glibc's memmem, a GNU extension the Glibc module does not export.
@_silgen_name("memmem")
func memmem(
    _ haystack: UnsafeRawPointer, _ haystackLength: Int, _ needle: UnsafeRawPointer?, _ needleLength: Int
)
    -> UnsafeMutableRawPointer?
