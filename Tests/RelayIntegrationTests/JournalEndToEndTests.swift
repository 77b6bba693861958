import Foundation
import TestSupport
import Testing

/// `callrelay run` against the Xelion test peer (`peer/xelion_peer.py`): what reaches the log stream and the journal.
@Suite("Journal and log stream end to end", .timeLimit(.minutes(3)))
struct JournalEndToEndTests {
    let directory = TestEnvironment.temporaryDirectory()
    var stream: URL { directory.appendingPathComponent("events.jsonl") }
    var data: URL { directory.appendingPathComponent("data") }

    func configuration(_ peer: XelionPeer) throws -> URL {
        try RelayProcess.configuration(peer, in: directory)
    }

    func startRelay(_ config: URL, _ name: String) async throws -> PeerProcess {
        try await RelayProcess.start(config, name, environment: ["ACME_XELION_PASSWORD": "secret"])
    }

    /// The complete lines of the log stream, as JSON objects.
    func streamed() -> [[String: Any]] {
        guard let text = try? String(contentsOf: stream, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: true).compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// `callrelay tail` over the journal, as JSON objects.
    func tail(_ arguments: [String] = []) async throws -> [[String: Any]] {
        try await RelayProcess.tail(data, arguments)
    }

    static func key(_ type: Any?, _ call: Any?, _ caller: Any?, _ callee: Any?) -> String {
        [type, call, caller, callee].map { ($0 as? String) ?? "-" }.joined(separator: "|")
    }

    @Test("transfers, jittered duplicate hangups, fragments: the log stream holds exactly the unique events, tail agrees")
    func exactlyTheUniqueEvents() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0.4", "--duplicate-jitter-ms", "2500", "--fragment"])
        let relay = try await startRelay(try configuration(peer), "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await eventually("the journal exists") {
            FileManager.default.fileExists(atPath: data.appendingPathComponent("journal.sqlite").path)
        }
        let follower = try await PeerProcess.launch(
            TestEnvironment.callrelay, ["tail", "--data-dir", data.path, "--json", "--follow"], readyLine: false)
        try await peer.control("calls?n=80&rate=0")
        let manifest = try await peer.manifestWhenPlayed()
        let unique = manifest.filter { ($0["duplicate"] as? Bool) != true }
        let transfers = manifest.count - unique.count
        #expect(transfers > 10)
        try await eventually("every unique event and every transfer streamed") { streamed().count >= unique.count + transfers }

        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
        let events = streamed()
        #expect(events.count == unique.count + transfers)
        let expected = unique.map { Self.key($0["notificationType"], $0["callId"], $0["callerFlowId"], $0["calleeFlowId"]) }
            .sorted()
        let forwarded = events.compactMap { event -> String? in
            guard event["type"] as? String != "call.transferred", let data = event["data"] as? [String: Any] else { return nil }
            let caller = data["caller"] as? [String: Any], callee = data["callee"] as? [String: Any]
            return Self.key(data["provider_event"], data["call_id"], caller?["flow_id"], callee?["flow_id"])
        }.sorted()
        #expect(forwarded == expected)
        #expect(events.count { $0["type"] as? String == "call.transferred" } == transfers)

        // tail --follow saw them arrive; tail reads the same events from the journal, with filters.
        var followed: [String] = []
        while followed.count < events.count {
            let line = try await follower.line(within: 20)
            followed.append((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? String ?? "")
        }
        follower.stop()
        #expect(followed == events.compactMap { $0["id"] as? String })
        let journal = try await tail()
        #expect(journal.compactMap { $0["id"] as? String } == events.compactMap { $0["id"] as? String })
        #expect(try await tail(["--type", "call.transferred"]).count == transfers)
        let lastFive = try await tail(["-n", "5"])
        #expect(lastFive.compactMap { $0["id"] as? String } == events.suffix(5).compactMap { $0["id"] as? String })
        let call = try #require(events.first?["subject"] as? String)
        let ofCall = try await tail(["--call", call])
        #expect(!ofCall.isEmpty && ofCall.allSatisfy { $0["subject"] as? String == call })
    }

    @Test("SIGKILL in the middle of a burst loses no event the log stream showed; the restarted daemon goes on")
    func killed() async throws {
        let peer = try await XelionPeer.start()
        let config = try configuration(peer)
        let relay = try await startRelay(config, "first")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=1500&rate=500")
        try await eventually("a part of the burst streamed") { streamed().count >= 300 }
        kill(relay.process.processIdentifier, SIGKILL)
        _ = await relay.exitStatus()

        let shown = streamed().compactMap { $0["id"] as? String }
        let journaled = Set(try await tail().compactMap { $0["id"] as? String })
        #expect(shown.count >= 300)
        #expect(shown.allSatisfy(journaled.contains), "every streamed event was committed before it was shown")

        // The killed relay's session lives on in the PBX; its token, kept private, lets the next login
        // end that session instead of being refused with 10005 until it expires.
        let tokenFile = data.appendingPathComponent("sessions/acme.token").path
        let permissions = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let restarted = try await startRelay(config, "second")
        try await eventually("subscribed again") { try await peer.subscribedTenants() == ["acme"] }
        #expect(try await peer.stats()["already_logged_in"] as? Int == 0)
        try await peer.control("calls?n=5&rate=0")
        try await eventually("new calls journaled after the restart") {
            try await tail(["--since", "1m"]).count >= journaled.count + 15
        }
        kill(restarted.process.processIdentifier, SIGTERM)
        #expect(await restarted.exitStatus() == 0)
        let ids = try await tail().compactMap { $0["id"] as? String }
        #expect(Set(ids).count == ids.count, "no event journaled twice")
        #expect(!FileManager.default.fileExists(atPath: tokenFile), "a clean logout forgets the token")
    }
}
