import CallEvents
import CallRelayCore
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
import Xelion
import XelionSimulator

@testable import Relay

/// Keeps what the pipeline's sinks receive.
final class CollectingSink: EventSink {
    private let entries = Mutex<[JournalEntry]>([])
    func write(_ batch: [JournalEntry]) { entries.withLock { $0.append(contentsOf: batch) } }
    var all: [JournalEntry] { entries.withLock { $0 } }
}

/// Generated calls of several tenants, interleaved as their sockets would deliver them.
struct Scenario {
    struct Delivery {
        var tenant: String
        var event: XelionCallEvent
        var isDuplicate: Bool
    }

    var deliveries: [Delivery] = []
    var transfers = 0

    init(tenants: [String], callsPerTenant: Int, seed: UInt64) {
        var random = SplitMix(state: seed)
        var queues: [[Delivery]] = []
        for (index, tenant) in tenants.enumerated() {
            var flows = CallFlows(seed: seed + UInt64(index), transferRatio: 0.3, missedRatio: 0.2)
            var queue: [Delivery] = []
            for _ in 0..<callsPerTenant {
                for simulated in flows.nextCall() {
                    var notification = simulated.notification
                    // Half the repeated hangups come back with a later `date`, as the vendor documents.
                    if simulated.isDuplicate {
                        transfers += 1
                        if random.next() % 2 == 0, let date = notification["date"] {
                            notification["date"] =
                                String(date.dropLast(2)) + String(format: "%02d", ((Int(date.suffix(2)) ?? 0) + 3) % 60)
                        }
                    }
                    guard let type = XelionCallEventType(rawValue: simulated.type),
                        let event = try? XelionCallEvent(
                            type: type, notification: .object(notification.mapValues { .string($0) }))
                    else { continue }
                    queue.append(Delivery(tenant: tenant, event: event, isDuplicate: simulated.isDuplicate))
                }
            }
            queues.append(queue.reversed())
        }
        // Interleave: take the next event of a random tenant, keeping each tenant's own order.
        while let index = queues.indices.filter({ !queues[$0].isEmpty }).randomElement(using: &random) {
            if let next = queues[index].popLast() { deliveries.append(next) }
        }
    }

    var uniqueCount: Int { deliveries.count { !$0.isDuplicate } + transfers }
}

@Suite("Pipeline: generated calls through normalize, dedupe, journal and sinks")
struct EventPipelineTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)")

    /// Runs `deliveries` through a fresh pipeline on the journal in `directory`.
    func play(_ deliveries: ArraySlice<Scenario.Delivery>, sink: CollectingSink) async throws -> PipelineCounters {
        let journal = try Journal(directory: directory)
        let pipeline = EventPipeline(journal: journal, sinks: [sink], logger: Logger(label: "test"), queueCapacity: 500)
        async let running: Void = try pipeline.run()
        for delivery in deliveries {
            await pipeline.submit(XelionMapping(tenant: delivery.tenant).normalize(delivery.event, receivedAt: Date()))
        }
        pipeline.finish()
        try await running
        return pipeline.stats
    }

    @Test("thousands of calls of three tenants: exactly the unique events come out, in order per call, across a restart")
    func randomized() async throws {
        let scenario = Scenario(tenants: ["acme", "globex", "initech"], callsPerTenant: 700, seed: 42)
        #expect(scenario.deliveries.count > 10_000)
        #expect(scenario.transfers > 300)
        let sink = CollectingSink()
        // A restart in the middle; the PBX replays the last 200 events after the reconnect.
        let middle = scenario.deliveries.count / 2
        let before = try await play(scenario.deliveries[..<middle], sink: sink)
        let after = try await play(scenario.deliveries[(middle - 200)...], sink: sink)
        let entries = sink.all

        #expect(entries.count == scenario.uniqueCount)
        #expect(Set(entries.map(\.event.id)).count == entries.count, "no event twice")
        #expect(
            before.duplicates + after.duplicates == scenario.deliveries.count - scenario.uniqueCount + scenario.transfers + 200)
        #expect(entries.count { $0.event.type == .transferred } == scenario.transfers)
        #expect(zip(entries, entries.dropFirst()).allSatisfy { $0.sequence < $1.sequence })

        // In order per call: each call's events come out in the order the PBX sent them.
        let sent = scenario.deliveries.filter { !$0.isDuplicate }.map {
            XelionMapping(tenant: $0.tenant).normalize($0.event, receivedAt: Date()).id
        }
        let position = Dictionary(uniqueKeysWithValues: sent.enumerated().map { ($1, $0) })
        var lastByCall: [String: Int] = [:]
        for entry in entries where entry.event.type != .transferred {
            let key = entry.event.data.tenant + "/" + entry.event.data.callId
            let index = try #require(position[entry.event.id])
            #expect(index > lastByCall[key, default: -1], "call \(key) out of order")
            lastByCall[key] = index
        }
        // What the sinks saw is what the journal holds.
        let journal = try Journal(directory: directory, create: false)
        var stored: [String] = []
        while case let page = try journal.entries(after: Int64(stored.count), limit: 5000), !page.isEmpty {
            stored += page.map(\.json)
        }
        #expect(stored == entries.map(\.json))
    }

    @Test("every event the code produces validates against docs/call-event.schema.json and as a CloudEvent")
    func schema() async throws {
        let scenario = Scenario(tenants: ["acme", "globex.eu"], callsPerTenant: 150, seed: 7)
        let sink = CollectingSink()
        _ = try await play(scenario.deliveries[...], sink: sink)
        var lines = sink.all.map(\.json)
        #expect(Set(sink.all.map(\.event.type)) == Set(CallEventType.all), "every type is covered")
        // With the raw payload, odd text, and a date the PBX wrote in another form.
        let odd = try XelionCallEvent(
            type: .callHungUpEvent,
            notification: [
                "callId": "odd \"call\" \n", "date": "2026-11-27T08:00:05.5+01:00", "duration": 12,
                "callerPhoneNumber": "0031 20 123 4567", "calleeUser": "Zoë", "initiation": "weird",
                "extra": ["nested": [1, true]],
            ])
        lines.append(XelionMapping(tenant: "acme", includeRaw: true).normalize(odd, receivedAt: Date()).json())
        let result = try await validate(lines)
        #expect(result.valid == lines.count, "\(result.invalid)")
    }

    /// Runs `Peers/validate_events.py` (jsonschema and the cloudevents SDK) over the lines.
    func validate(_ lines: [String]) async throws -> (valid: Int, invalid: String) {
        try await offThread {
            let input = directory.appendingPathComponent("events.jsonl")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
            let script = TestEnvironment.repositoryRoot.appendingPathComponent("Tests/RelayTests/Peers/validate_events.py")
            let schema = TestEnvironment.repositoryRoot.appendingPathComponent("docs/call-event.schema.json")
            process.arguments = [script.path, schema.path]
            process.standardInput = try FileHandle(forReadingFrom: input)
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0, let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            else {
                throw PeerError(
                    description: "validator failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
            }
            let invalid = try JSONSerialization.data(withJSONObject: object["invalid"] ?? [])
            return (object["valid"] as? Int ?? -1, String(decoding: invalid, as: UTF8.self))
        }
    }
}
