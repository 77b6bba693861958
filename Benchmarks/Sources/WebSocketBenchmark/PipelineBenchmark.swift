import CallEvents
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Relay
import Xelion
import XelionSimulator

/// Events per second through decode → normalize → dedupe → journal commit → JSON Lines sink, and the
/// latency from a message's arrival to its line being written (of a sixteenth of them, see `Clock`).
/// Run it on one core:
///
///   taskset -c 0 Benchmarks/.build/release/WebSocketBenchmark pipeline [--events N] [--rate R] [--durability full|normal]
///
/// `--stages` instead times decode, normalize and the JSON writer on their own.
enum PipelineBenchmark {
    struct Result: Codable {
        var events: Int
        var committed: Int
        var duplicates: Int
        var seconds: Double
        var eventsPerSecond: Double
        var commits: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var durability: String
        var rate: Double
        /// Processor time of the whole process during the run: steadier than the wall clock on a
        /// shared machine, whose other guests take the processor away at random.
        var cpuSeconds: Double
    }

    /// Timestamps of submitted events, read back by the sink. A queue in submission order rather than a
    /// table by id: events are committed in the order they were submitted, duplicates dropped and
    /// transfers added, so each committed event is found at or near the front.
    ///
    /// Only a sixteenth of the events are timed, those whose id ends in `0` (ids are hex digits of a
    /// hash): timing every one, with its lock, queue entry and reference counts, was 2 % of the
    /// measured processor time, which the product does not spend. A repeat has its original's id, so
    /// both are timed or neither.
    final class Clock: EventSink {
        let submitted = NIOLockedValueBox(CircularBuffer<(id: String, at: UInt64)>(initialCapacity: 1 << 12))
        let latencies = NIOLockedValueBox([UInt64]())

        static func isTimed(_ id: String) -> Bool {
            // Not `id.utf8.last`, which walks the string's index API and was half the cost of timing.
            id.utf8.withContiguousStorageIfAvailable { $0.last == UInt8(ascii: "0") } ?? false
        }

        func submit(_ id: String, at time: UInt64) {
            guard Self.isTimed(id) else { return }
            submitted.withLockedValue { $0.append((id, time)) }
        }

        func write(_ entries: [JournalEntry]) {
            let now = DispatchTime.now().uptimeNanoseconds
            var found: [UInt64] = []
            submitted.withLockedValue { submitted in
                for entry in entries where entry.event.type != .transferred && Self.isTimed(entry.event.id) {
                    // Timed events before this one that were not committed were duplicates.
                    while let first = submitted.first, first.id != entry.event.id { submitted.removeFirst() }
                    if let first = submitted.popFirst() { found.append(now - first.at) }
                }
            }
            latencies.withLockedValue { $0.append(contentsOf: found) }
        }
    }

    /// - Parameter keep: a data directory to journal into and leave behind (a journal to run
    ///   `callrelay tail` over), instead of a temporary one.
    static func run(
        events count: Int, rate: Double, durability: JournalOptions.Durability, stages: Bool, keep: String? = nil
    ) async throws {
        let texts = messages(count)
        if stages {
            measureStages(texts)
            return
        }
        let directory =
            keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-pipeline-\(getpid())")
        defer { if keep == nil { try? FileManager.default.removeItem(at: directory) } }
        let journal = try Journal(directory: directory, options: JournalOptions(durability: durability))
        let clock = Clock()
        let stream = try LogStreamSink(
            path: directory.appendingPathComponent("events.jsonl").path, format: .json, maxBytes: 0, colour: false)
        let pipeline = EventPipeline(journal: journal, sinks: [stream, clock], logger: Logger(label: "bench"))
        let mapping = XelionMapping(tenant: "acme")
        let start = DispatchTime.now().uptimeNanoseconds
        let cpuAtStart = cpuSeconds()
        async let writer: Void = try pipeline.run()
        let interval = rate > 0 ? UInt64(1e9 / rate) : 0
        for (index, text) in texts.enumerated() {
            if interval > 0 {
                let due = start + UInt64(index) * interval
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { try await Task.sleep(nanoseconds: due - now) }
            }
            let arrived = DispatchTime.now().uptimeNanoseconds
            guard case .callEvent(let event) = XelionSocketMessage.decode(text) else { continue }
            let normalized = mapping.normalize(event, receivedAt: Date())
            clock.submit(normalized.id, at: arrived)
            await pipeline.submit(normalized)
        }
        pipeline.finish()
        try await writer
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpu = cpuSeconds() - cpuAtStart
        let latencies = clock.latencies.withLockedValue { $0 }.sorted()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1e6
        }
        let stats = pipeline.stats
        let result = Result(
            events: texts.count, committed: stats.committed, duplicates: stats.duplicates, seconds: seconds,
            eventsPerSecond: Double(texts.count) / seconds, commits: stats.commits,
            p50Milliseconds: percentile(0.5), p99Milliseconds: percentile(0.99), durability: durability.rawValue, rate: rate,
            cpuSeconds: cpu)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        emitLine(String(decoding: try encoder.encode(result), as: UTF8.self))
        FileHandle.standardError.write(
            Data(
                String(
                    format:
                        "%d events in %.2f s: %.0f events/s (%.0f per processor second), %d commits (%.2f s in commits), latency p50 %.2f ms p99 %.2f ms (durability %@)\n",
                    texts.count, seconds, result.eventsPerSecond, Double(texts.count) / cpu, stats.commits, stats.commitSeconds,
                    result.p50Milliseconds, result.p99Milliseconds, durability.rawValue
                ).utf8))
    }

    /// User and system time of this process so far, in seconds.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Nanoseconds per event of the stages before the journal, each on its own: the fastest of five
    /// rounds, as the slower ones measure the machine's other guests more than the code.
    static func measureStages(_ texts: [String]) {
        let mapping = XelionMapping(tenant: "acme")
        var best: [String: Double] = [:]
        var bytes = 0
        for _ in 0..<5 {
            var clock = DispatchTime.now().uptimeNanoseconds
            func lap(_ name: String) {
                let now = DispatchTime.now().uptimeNanoseconds
                best[name] = min(best[name] ?? .infinity, Double(now - clock) / Double(texts.count))
                clock = now
            }
            var decoded: [XelionCallEvent] = []
            decoded.reserveCapacity(texts.count)
            for text in texts {
                if case .callEvent(let event) = XelionSocketMessage.decode(text) { decoded.append(event) }
            }
            lap("decode")
            let normalized = decoded.map { mapping.normalize($0, receivedAt: Date()) }
            lap("normalize")
            bytes = 0
            for event in normalized { bytes += event.json().utf8.count }
            lap("JSON")
        }
        for name in ["decode", "normalize", "JSON"] {
            FileHandle.standardError.write(Data("\(name): \(Int(best[name] ?? 0)) ns per event (fastest of 5)\n".utf8))
        }
        FileHandle.standardError.write(Data("JSON: \(bytes / max(texts.count, 1)) bytes per event\n".utf8))
    }

    /// Socket messages as the PBX sends them: generated calls with transfers and repeated hangups.
    static func messages(_ count: Int) -> [String] {
        var flows = CallFlows(seed: 99, transferRatio: 0.2, missedRatio: 0.2)
        var texts: [String] = []
        texts.reserveCapacity(count)
        while texts.count < count {
            for event in flows.nextCall() where texts.count < count {
                // By hand: `JSONSerialization` took longer than the measured run. The generated keys
                // and values need no escaping.
                let members = event.notification.map { #""\#($0.key)":"\#($0.value)""# }.joined(separator: ",")
                texts.append(#"{"notificationType":"\#(event.type)","notification":{\#(members)}}"#)
            }
        }
        return texts
    }
}
