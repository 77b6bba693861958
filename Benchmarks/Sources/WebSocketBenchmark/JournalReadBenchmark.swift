import CallEvents
import Foundation
import NIOConcurrencyHelpers
import Relay
import Xelion

/// The commands that read a journal, as a person runs them, over a journal of `events` events with
/// one webhook endpoint (so as many deliveries: most delivered, some pending, some dead) and a gap
/// log at its bound:
///
/// - `callrelay tail -n N` (JSON Lines and readable lines) to a pipe, against
///   `sqlite3 journal.sqlite 'select body from events order by seq'` on the same file;
/// - `callrelay deliveries`, `deliveries --dead` and `gaps`, each until its last line;
/// - `callrelay tail -f`: from an event's commit (durable) to its line on the pipe, at 1,000 and
///   10,000 events/s.
///
/// Each command runs as `sh -c 'COMMAND | cat > /dev/null'` pinned to one core; the figure is the
/// median of `repeats` rounds, the peer and callrelay alternating.
enum JournalReadBenchmark {
    static let endpointURL = "https://crm.example.com/hooks/calls"

    static func run(events count: Int, repeats: Int, callrelay: String, keep: String?) async throws {
        guard FileManager.default.isExecutableFile(atPath: callrelay) else {
            throw BenchmarkError("no callrelay at \(callrelay): swift build -c release first, or pass --callrelay PATH")
        }
        let directory =
            keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("callrelay-journal-read-\(getpid())")
        defer { if keep == nil { try? FileManager.default.removeItem(at: directory) } }
        let database = directory.appendingPathComponent("journal.sqlite").path
        let config = directory.appendingPathComponent("callrelay.yaml").path
        if try existingEvents(database) < count {
            try? FileManager.default.removeItem(at: directory)
            try await populate(directory, events: count)
        }
        try """
        data_dir: .
        tenants:
          - name: acme
            xelion: {url: "https://pbx.example.com/api/v1/acme/", username: admin, password_env: ACME_PASSWORD}
            webhooks:
              - {url: "\(endpointURL)", secret_env: ACME_SECRET}
        """.write(toFile: config, atomically: true, encoding: .utf8)

        let data = "--data-dir '\(directory.path)'"
        let cases: [(name: String, command: String, peer: String?)] = [
            (
                "tail -n \(count), JSON Lines", "'\(callrelay)' tail \(data) -n \(count) --json",
                "sqlite3 '\(database)' 'select body from events order by seq'"
            ),
            ("tail -n \(count), readable lines", "'\(callrelay)' tail \(data) -n \(count) --pretty", nil),
            ("deliveries", "'\(callrelay)' deliveries --config '\(config)'", nil),
            ("deliveries --dead", "'\(callrelay)' deliveries --config '\(config)' --dead", nil),
            ("gaps", "'\(callrelay)' gaps --config '\(config)'", nil),
        ]
        print("A journal of \(count) events and as many deliveries, a gap log at its bound; median of \(repeats) rounds.\n")
        print("| command | callrelay | sqlite3, same rounds | ratio |")
        print("|---|---:|---:|---:|")
        for entry in cases {
            var ours: [Double] = []
            var theirs: [Double] = []
            for round in 0..<repeats {
                if let peer = entry.peer, round % 2 == 1 { theirs.append(try seconds(peer)) }
                ours.append(try seconds(entry.command))
                if let peer = entry.peer, round % 2 == 0 { theirs.append(try seconds(peer)) }
            }
            let oursMedian = ours.sorted()[ours.count / 2]
            if theirs.isEmpty {
                print("| `\(entry.name)` | \(String(format: "%.3f", oursMedian)) s |  |  |")
            } else {
                let theirsMedian = theirs.sorted()[theirs.count / 2]
                print(
                    "| `\(entry.name)` | \(String(format: "%.3f", oursMedian)) s | \(String(format: "%.3f", theirsMedian)) s | "
                        + "\(String(format: "%.2f", theirsMedian / oursMedian))× sqlite3's speed |")
            }
        }
        for rate in [1000.0, 10000.0] {
            let result = try await follow(directory: directory, callrelay: callrelay, rate: rate, seconds: 10)
            print(
                "| `tail -f` at \(Int(rate)) events/s, commit to line | p50 \(String(format: "%.1f", result.p50)) ms, "
                    + "p99 \(String(format: "%.1f", result.p99)) ms, max \(String(format: "%.1f", result.max)) ms, "
                    + "\(result.seen) of \(result.sent) shown |  |  |")
        }
    }

    /// Wall seconds of `sh -c 'COMMAND | cat > /dev/null'` on core 0.
    static func seconds(_ command: String) throws -> Double {
        let (executable, arguments) = Driver.pinned("/bin/sh", ["-c", "\(command) | cat > /dev/null"], core: 0)
        let start = ContinuousClock.now
        try Driver.shell(executable, arguments)
        return (ContinuousClock.now - start) / .seconds(1)
    }

    static func existingEvents(_ database: String) throws -> Int {
        guard FileManager.default.fileExists(atPath: database) else { return 0 }
        return Int((try? Driver.shell("/usr/bin/sqlite3", [database, "select count(*) from events"])) ?? "") ?? 0
    }

    /// Generated calls committed through the journal in batches of 1,000, each owing a delivery; then
    /// 98 % of the deliveries marked delivered and 0.1 % dead, as a journal some days old has them.
    static func populate(_ directory: URL, events count: Int) async throws {
        let started = ContinuousClock.now
        let routes = ["acme": [DeliveryRoute(tenant: "acme", url: endpointURL, types: [])]]
        let journal = try Journal(directory: directory, options: JournalOptions(durability: .normal), routes: routes)
        let committed = try await GeneratedJournal.commit(count, to: journal).count
        try Driver.shell(
            "/usr/bin/sqlite3",
            [
                directory.appendingPathComponent("journal.sqlite").path,
                """
                UPDATE deliveries SET state = 'delivered', attempts = 1 WHERE seq % 50 != 0;
                UPDATE deliveries SET state = 'dead', attempts = 12, last_error = 'HTTP 500 from the endpoint'
                  WHERE seq % 1000 = 0;
                """,
            ])
        let gaps = GapLog(dataDirectory: directory)
        let gapFile = gaps.url.path
        var index = 0
        while !FileManager.default.fileExists(atPath: gapFile + ".1")
            || ((try? FileManager.default.attributesOfItem(atPath: gapFile)[.size] as? Int) ?? 0) < gaps.maxBytes - 512
        {
            let start = Date(timeIntervalSince1970: 1_790_000_000 + Double(index) * 60)
            try await gaps.record(
                Gap(tenant: "acme", start: start, end: start.addingTimeInterval(4), cause: "the socket closed (1006)"))
            index += 1
        }
        FileHandle.standardError.write(
            Data("journal of \(committed) events and \(index) gaps written in \(started.duration(to: .now))\n".utf8))
    }

    struct FollowResult {
        var sent: Int
        var seen: Int
        var p50: Double
        var p99: Double
        var max: Double
    }

    /// `callrelay tail -f --json` while events are committed at `rate` for `seconds`: the time from
    /// each commit being durable to its line arriving on the pipe.
    static func follow(directory: URL, callrelay: String, rate: Double, seconds: Double) async throws -> FollowResult {
        let (executable, arguments) = Driver.pinned(
            callrelay, ["tail", "--data-dir", directory.path, "-f", "-n", "0", "--json"], core: 0)
        let process = try DeliveryBenchmark.launch(executable, arguments)
        guard let pipe = process.standardOutput as? Pipe else { throw BenchmarkError("no pipe from callrelay tail") }
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let committedAt = NIOLockedValueBox([String: UInt64]())
        let shownAt = NIOLockedValueBox([String: UInt64]())
        let reader = Thread {
            let descriptor = pipe.fileHandleForReading.fileDescriptor
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count <= 0 { return }
                let now = DispatchTime.now().uptimeNanoseconds
                pending.append(contentsOf: buffer[0..<count])
                var ids: [String] = []
                while let newline = pending.firstIndex(of: 0x0A) {
                    if let id = eventId(pending[..<newline]) { ids.append(id) }
                    pending.removeSubrange(...newline)
                }
                shownAt.withLockedValue { for id in ids { $0[id] = now } }
            }
        }
        reader.start()
        // Let the follow start before the clock does.
        try await Task.sleep(for: .milliseconds(500))
        let journal = try Journal(directory: directory, options: JournalOptions(durability: .normal))
        let mapping = XelionMapping(tenant: "follow-\(Int(rate))-\(getpid())")
        let total = Int(rate * seconds)
        let texts = PipelineBenchmark.messages(total)
        // Commits every 10 ms, of what fell due, as the relay's pipeline batches what arrived.
        let start = DispatchTime.now().uptimeNanoseconds
        var next = 0
        while next < texts.count {
            let due = min(texts.count, Int(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 * rate) + 1)
            var batch: [CallEvent] = []
            while next < due {
                if case .callEvent(let event) = XelionSocketMessage.decode(texts[next]) {
                    batch.append(mapping.normalize(event, receivedAt: Date()))
                }
                next += 1
            }
            if !batch.isEmpty {
                _ = try await journal.commit(batch) { entries in
                    let now = DispatchTime.now().uptimeNanoseconds
                    committedAt.withLockedValue { for entry in entries { $0[entry.event.id] = now } }
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        try await journal.waitUntilDurable()
        let committed = committedAt.withLockedValue { $0 }
        // Until every committed event is shown, or two seconds without progress.
        var lastSeen = -1
        var still = 0
        while true {
            let seen = shownAt.withLockedValue { shown in committed.keys.filter { shown[$0] != nil }.count }
            if seen == committed.count { break }
            still = seen == lastSeen ? still + 1 : 0
            if still >= 20 { break }
            lastSeen = seen
            try await Task.sleep(for: .milliseconds(100))
        }
        let shown = shownAt.withLockedValue { $0 }
        // `tail` reads committed rows, so a line can come before its commit's sync returned here:
        // counted as no wait.
        let latencies = committed.compactMap { id, at in shown[id].map { $0 > at ? Double($0 - at) / 1e6 : 0 } }.sorted()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        return FollowResult(
            sent: committed.count, seen: latencies.count, p50: percentile(0.5), p99: percentile(0.99),
            max: latencies.last ?? .nan)
    }

    /// The value of the first `"id":"…"` of a JSON line.
    static func eventId(_ line: ArraySlice<UInt8>) -> String? {
        let key = Array(#""id":""#.utf8)
        guard let start = line.firstRange(of: key)?.upperBound,
            let end = line[start...].firstIndex(of: UInt8(ascii: "\""))
        else { return nil }
        return String(decoding: line[start..<end], as: UTF8.self)
    }
}
