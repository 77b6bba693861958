import CallEvents
import CallRelayCore
import Foundation
import Relay
import TestSupport
import Testing
import Xelion

/// `callrelay tail -n` and `callrelay gaps` over a journal and gap log written here, as a person
/// runs them into a pipe.
@Suite("tail -n and gaps from the command line", .timeLimit(.minutes(2)))
struct ReadingCommandsTests {
    let directory = TestEnvironment.temporaryDirectory()

    /// `count` started calls, committed in one journal, call ids `call-0` on.
    func journal(_ count: Int) async throws {
        let journal = try Journal(directory: directory)
        let mapping = XelionMapping(tenant: "acme")
        let events = try (0..<count).map { index in
            let notification: JSONValue = .object([
                "callId": .string("call-\(index)"), "date": "2026-11-27 08:00:05", "initiation": "incoming",
                "callerFlowId": .string("flow-\(index)"), "callerPhoneNumber": "+31201234567",
            ])
            return mapping.normalize(try XelionCallEvent(type: .newCallEvent, notification: notification), receivedAt: Date())
        }
        _ = try await journal.commit(events)
    }

    func run(_ arguments: [String]) async throws -> (status: Int32, lines: [String]) {
        let process = try await PeerProcess.launch(TestEnvironment.callrelay, arguments, readyLine: false)
        let output = await process.rest()
        return (await process.exitStatus(), output.split(separator: "\n").map(String.init))
    }

    @Test("tail -n 1500 over 2,500 events: exactly the newest 1,500, oldest first, across pages; readable lines too")
    func newestAcrossPages() async throws {
        try await journal(2500)
        let json = try await run(["tail", "--data-dir", directory.path, "-n", "1500", "--json"])
        #expect(json.status == 0)
        let calls = json.lines.compactMap { try? CallEvent.decode(json: $0).data.callId }
        #expect(calls == (1000..<2500).map { "call-\($0)" })
        let readable = try await run(["tail", "--data-dir", directory.path, "-n", "1500", "--pretty"])
        #expect(readable.lines.count == 1500)
        #expect(readable.lines.first?.contains("acme  call.started        call-1000  +31201234567 → ?") == true)
    }

    @Test("gaps prints every gap of the log and the one before it, and --json reads back")
    func gaps() async throws {
        let log = GapLog(dataDirectory: directory, maxBytes: 4096)
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        for index in 0..<100 {
            let from = start.addingTimeInterval(Double(index) * 60)
            try await log.record(
                Gap(tenant: "acme", start: from, end: from.addingTimeInterval(2.25), cause: "the socket closed (1006)"))
        }
        let kept = try log.all()
        #expect(kept.count > 30 && kept.count < 100, "a bounded log")
        let config = directory.appendingPathComponent("callrelay.yaml")
        try """
        data_dir: .
        tenants:
          - name: acme
            xelion: {url: "https://pbx.example.com/api/v1/acme/", username: admin, password_env: ACME_PASSWORD}
        """.write(to: config, atomically: true, encoding: .utf8)
        let text = try await run(["gaps", "--config", config.path])
        #expect(text.status == 0)
        #expect(text.lines.count == kept.count)
        #expect(text.lines.last == "acme  2026-11-18T12:45:40Z → 2026-11-18T12:45:42Z  (2.0 s)  the socket closed (1006)")
        let json = try await run(["gaps", "--config", config.path, "--json"])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        #expect(try json.lines.map { try decoder.decode(Gap.self, from: Data($0.utf8)) }.map(\.start) == kept.map(\.start))
    }
}
