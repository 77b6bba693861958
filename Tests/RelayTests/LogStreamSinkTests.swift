import CallEvents
import Foundation
import Logging
import Testing
import Xelion

@testable import Relay

@Suite("Log stream")
struct LogStreamSinkTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")

    func entries(_ count: Int, from first: Int = 0) -> [JournalEntry] {
        let pbx = Notifications()
        return (first..<(first + count)).map { index in
            let event = pbx.event(.newCallEvent, call: "call-\(index)")
            return JournalEntry(sequence: Int64(index + 1), json: event.json(), event: event)
        }
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test("JSON Lines to a file, rotated by size into .1 and .2, every line whole, nothing beyond keep")
    func rotation() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("events.jsonl").path
        let sink = try LogStreamSink(path: path, format: .json, maxBytes: 8_000, keep: 2)
        for batch in 0..<40 {
            sink.write(entries(2, from: batch * 2))
            #expect(sink.flush())
        }
        let files = [path + ".2", path + ".1", path].map(lines)
        #expect(!FileManager.default.fileExists(atPath: path + ".3"), "only `keep` rotated files")
        for file in files {
            #expect(!file.isEmpty)
            for line in file { #expect(try CallEvent.decode(json: line).type == .started, "a whole event per line") }
        }
        #expect(files.allSatisfy { $0.joined(separator: "\n").utf8.count <= 8_000 })
        // The newest events are in the current file, in order.
        #expect(files[2].last?.contains(#""call_id":"call-79""#) == true)
        let calls = files.joined().compactMap { try? CallEvent.decode(json: $0).data.callId }
        #expect(calls == calls.sorted { Int($0.dropFirst(5)) ?? 0 < Int($1.dropFirst(5)) ?? 0 })
    }

    @Test("a commit's entries reach the file as the journal stored them, alone, in part, or mixed with others")
    func committedLines() async throws {
        let journal = try Journal(directory: directory)
        let pbx = Notifications()
        let committed = try await journal.commit((0..<5).map { pbx.event(.newCallEvent, call: "c-\($0)") }).committed
        let path = directory.appendingPathComponent("events.jsonl").path
        let sink = try LogStreamSink(path: path, format: .json)
        sink.write(committed)  // the commit's lines, as they are
        #expect(sink.flush())
        sink.write(Array(committed[1...2]))  // a run of them
        #expect(sink.flush())
        sink.write([committed[4], committed[0]])  // out of order: gathered line by line
        #expect(sink.flush())
        let own = entries(1, from: 7)[0]
        sink.write([committed[3], own])  // with an entry of its own
        #expect(sink.flush())
        let stored = try journal.entries(after: 0).map(\.json)
        #expect(stored == committed.map(\.json))
        let expected = stored + [stored[1], stored[2], stored[4], stored[0], stored[3], own.json]
        #expect(lines(path) == expected)
    }

    @Test("the readable form has no colour codes when it does not go to a terminal")
    func pretty() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("pretty.log").path
        let sink = try LogStreamSink(path: path, format: .pretty)
        sink.write(entries(3))
        #expect(sink.flush())
        let written = lines(path)
        #expect(written.count == 3)
        #expect(written.allSatisfy { $0.contains("acme  call.started") && $0.contains("+31201234567 → anna") })
        #expect(!written.joined().contains("\u{1B}["))
        #expect(PrettyEventFormat(colour: true).line(entries(1)[0].event).contains("\u{1B}[36m"))
    }

    @Test("a stream that cannot be written (a full disk) is said once, with the reason, not once per batch")
    func fullDisk() throws {
        let (logger, records) = RecordingLogHandler.logger()
        // Every write to /dev/full fails with ENOSPC.
        let sink = try LogStreamSink(path: "/dev/full", format: .json, logger: logger)
        for batch in 0..<5 {
            sink.write(entries(2, from: batch * 2))
            #expect(sink.flush())
        }
        let warnings = records.all.filter { $0.level == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.metadata["error"] == "\(String(cString: strerror(ENOSPC)))")
        #expect(warnings.first?.metadata["path"] == "/dev/full")
    }

    @Test("when its file can be written again, the stream goes on with whole lines and says how many events it lacks")
    func recovers() throws {
        let (logger, records) = RecordingLogHandler.logger()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("events.jsonl").path
        let sink = try LogStreamSink(path: path, format: .json, maxBytes: 1_000, keep: 1, logger: logger)
        sink.write(entries(2))
        #expect(sink.flush())
        // The directory goes: the rotation that comes due cannot open a new file.
        try FileManager.default.removeItem(at: directory)
        sink.write(entries(2, from: 2))
        #expect(sink.flush())
        sink.write(entries(3, from: 4))
        #expect(sink.flush())
        #expect(records.all.map(\.level) == [.warning])
        // Back: the next batch opens the file again.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        sink.write(entries(2, from: 7))
        #expect(sink.flush())
        #expect(records.all.map(\.level) == [.warning, .notice])
        #expect(records.all.last?.metadata["events_left_out"] == "5")
        let written = lines(path)
        #expect(written.count == 2)
        for line in written { #expect(try CallEvent.decode(json: line).type == .started, "whole lines") }
        #expect(written.last?.contains(#""call_id":"call-8""#) == true)
    }
    @Test(
        "a reader that stops reading never holds up the journal: past the buffer events are left out, counted and said once; reading again brings the stream back"
    )
    func stalledReader() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fifo = directory.appendingPathComponent("events.pipe").path
        #expect(mkfifo(fifo, 0o600) == 0)
        // A reader that holds the pipe open and reads nothing, as a paused pager or a stalled shipper.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let (logger, records) = RecordingLogHandler.logger()
        let sink = try LogStreamSink(path: fifo, format: .json, maxBytes: 0, logger: logger, bufferLimit: 64 << 10)
        // About 1 KiB an event: far more than the pipe (64 KiB) and the buffer hold. Each call returns
        // without waiting for the reader; before, the first full pipe blocked the caller for good.
        for batch in 0..<100 { sink.write(entries(10, from: batch * 10)) }
        let warnings = records.all.filter { $0.level == .warning }
        #expect(warnings.count == 1, "said once, not once per batch")
        #expect(warnings.first?.message.contains("not keeping up") == true)

        var received: [UInt8] = []
        func drain() {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                guard count > 0 else { return }
                received.append(contentsOf: buffer[0..<count])
            }
        }
        // The reader reads again: what was queued goes out, then a new batch, whole.
        repeat { drain() } while !sink.flush(timeout: .milliseconds(20))
        sink.write(entries(2, from: 5_000))
        repeat { drain() } while !sink.flush(timeout: .milliseconds(20))
        drain()
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\n")
        for line in lines { #expect(try CallEvent.decode(json: line).type == .started, "whole lines only") }
        #expect(lines.last?.contains(#""call_id":"call-5001""#) == true)
        let notice = try #require(records.all.first { $0.level == .notice })
        let leftOut = Int("\(notice.metadata["events_left_out"] ?? "")") ?? 0
        #expect(leftOut > 0)
        #expect(lines.count + leftOut == 1_002, "every event either written or counted as left out")
    }

    @Test("a start writes the events committed after the stream's last position first, then the new ones")
    func catchesUp() async throws {
        let journal = try Journal(directory: directory)
        let pbx = Notifications()
        let committed = try await journal.commit((0..<5).map { pbx.event(.newCallEvent, call: "c-\($0)") }).committed
        let position = LogStreamPosition(dataDirectory: directory)
        let path = directory.appendingPathComponent("events.jsonl").path

        // No position yet: the stream starts with the next commit and records where that is.
        let first = try LogStreamSink(path: path, format: .json, position: position, journal: journal)
        #expect(first.flush())
        #expect(lines(path).isEmpty)
        #expect(position.load() == committed[4].sequence)

        // As if the process had died after writing two of them.
        try "\(committed[1].sequence)\n".write(toFile: position.path, atomically: true, encoding: .utf8)
        let (logger, records) = RecordingLogHandler.logger()
        let sink = try LogStreamSink(path: path, format: .json, logger: logger, position: position, journal: journal)
        let later = try await journal.commit([pbx.event(.newCallEvent, call: "c-later")]).committed
        sink.write(later)
        #expect(sink.flush())
        #expect(lines(path) == committed[2...].map(\.json) + later.map(\.json))
        #expect(position.load() == later[0].sequence)
        #expect(records.all.contains { $0.level == .notice && $0.metadata["events"] == "3" })
    }
}

@Suite("Private files")
struct PrivateFileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("private-\(UUID().uuidString)")

    func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("the log stream file gives others no access, as the journal does: it holds every caller's number")
    func logStreamMode() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("events.jsonl").path
        _ = try LogStreamSink(path: path, format: .json)
        let found = try mode(path)
        #expect(found & 0o007 == 0, "mode \(String(found, radix: 8))")
    }

    @Test("a session token that cannot be kept is an error naming the path, never the token; a kept one is 0600")
    func tokenFile() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let store = SessionTokenFile(dataDirectory: directory, tenant: "acme")
        try store.save("token-one")
        #expect(store.load() == "token-one")
        #expect(try mode(store.path) == 0o600)
        try store.save(nil)
        #expect(store.load() == nil)
        // A file where the sessions directory should be: the save fails, and says so.
        let blocked = directory.appendingPathComponent("blocked")
        try Data().write(to: blocked)
        let failing = SessionTokenFile(dataDirectory: blocked, tenant: "acme")
        #expect {
            try failing.save("secret-token-value")
        } throws: { error in
            "\(error)".contains(blocked.path) && !"\(error)".contains("secret-token-value")
        }
    }
}
