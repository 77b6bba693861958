import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing
import XelionSimulator

/// the CRM test peer (`peer/crm_sink.py`): verifies Standard Webhooks signatures and CloudEvents bodies, fails on demand.
final class CRMSink: @unchecked Sendable {
    let process: PeerProcess
    let url: String
    let port: Int
    let http = HTTPClient(eventLoopGroupProvider: .singleton)

    static let secret = "whsec_" + Data((0..<32).map { UInt8(($0 * 37 + 11) % 256) }).base64EncodedString()

    /// - Parameter port: the port of a sink stopped before, to stand in for it at the same URL.
    static func start(_ arguments: [String] = [], port: Int? = nil) async throws -> CRMSink {
        try await offThread { try CRMSink(arguments, port: port) }
    }

    private init(_ arguments: [String], port: Int?) throws {
        func launch(_ port: Int) throws -> PeerProcess {
            try PeerProcess(
                TestEnvironment.python,
                [
                    TestEnvironment.sharedPeers.appendingPathComponent("crm_sink.py").path, "--port", "\(port)", "--secret",
                    Self.secret,
                ]
                    + arguments)
        }
        // With no port asked for, on one found free (another if it was taken meanwhile).
        let chosen = try port.map { ($0, try launch($0)) } ?? onFreePorts(1) { ports in (ports[0], try launch(ports[0])) }
        process = chosen.1
        self.port = chosen.0
        url = process.ready["url"] as? String ?? ""
    }

    deinit {
        process.stop()
        try? http.syncShutdown()
    }

    /// What the sink accepted: webhook ids, bodies, and its counters.
    func deliveries() async throws -> (accepted: [[String: Any]], attempts: Int, badSignatures: Int, notCloudEvents: Int) {
        let response = try await http.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/_deliveries"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any] ?? [:]
        return (
            object["accepted"] as? [[String: Any]] ?? [], object["attempts"] as? Int ?? 0, object["bad_signatures"] as? Int ?? -1,
            object["not_cloudevents"] as? Int ?? -1
        )
    }

    func control(_ action: String) async throws {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/_control/\(action)")
        request.method = .POST
        _ = try await http.execute(request, timeout: .seconds(10))
    }
}

/// `callrelay run` delivering to the CRM receiver.
@Suite("Webhook delivery end to end", .timeLimit(.minutes(3)))
struct WebhookEndToEndTests {
    let directory = TestEnvironment.temporaryDirectory()
    var data: URL { directory.appendingPathComponent("data") }

    func configuration(_ peer: XelionPeer, _ sink: CRMSink) throws -> URL {
        try RelayProcess.configuration(
            peer, in: directory,
            tenant: """
                    webhooks:
                      - url: \(sink.url)
                        secret_env: ACME_WEBHOOK_SECRET
                        headers_env: {Authorization: ACME_CRM_TOKEN}
                """)
    }

    func startRelay(_ config: URL, _ name: String) async throws -> PeerProcess {
        try await RelayProcess.start(
            config, name,
            environment: [
                "ACME_XELION_PASSWORD": "secret", "ACME_WEBHOOK_SECRET": CRMSink.secret, "ACME_CRM_TOKEN": "Bearer t0ken",
            ])
    }

    func journaledIds() async throws -> [String] {
        try await RelayProcess.tail(data).compactMap { $0["id"] as? String }
    }

    /// Waits until the CRM has accepted every journaled event; returns their ids, oldest first.
    func everyJournaledEventDelivered(to sink: CRMSink, within seconds: Double = 15) async throws -> [String] {
        var journaled: [String] = []
        try await eventually("every journaled event delivered", within: seconds) {
            journaled = try await journaledIds()
            let accepted = try await sink.deliveries().accepted.compactMap { $0["webhook-id"] as? String }
            return !journaled.isEmpty && Set(accepted) == Set(journaled)
        }
        return journaled
    }

    /// The receiver got each call's events in the journal's order.
    func expectInOrderPerCall(
        _ accepted: [[String: Any]], journaled: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let order = Dictionary(uniqueKeysWithValues: journaled.enumerated().map { ($1, $0) })
        var last: [String: Int] = [:]
        for entry in accepted {
            guard let body = entry["body"] as? [String: Any], let call = body["subject"] as? String,
                let id = body["id"] as? String,
                let position = order[id]
            else { continue }
            #expect(position > last[call, default: -1], "call \(call) out of order", sourceLocation: sourceLocation)
            last[call] = position
        }
    }

    @Test(
        "the CRM receives exactly the journaled events, signed, as CloudEvents, in order per call, through 500s and a 503 outage")
    func deliversEverything() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0.4"])
        let sink = try await CRMSink.start(["--fail-every", "7", "--down-status", "503", "--retry-after", "1"])
        // The default schedule waits 5 minutes after the third failure; a test cannot.
        let config = try configuration(peer, sink)
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "headers_env: {Authorization: ACME_CRM_TOKEN}",
            with: "headers_env: {Authorization: ACME_CRM_TOKEN}\n        retry_schedule: [0s, 1s, 1s, 1s, 1s, 1s, 1s, 1s]")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let relay = try await startRelay(config, "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=20&rate=0")
        _ = try await peer.manifestWhenPlayed()
        // An outage of the CRM in the middle: 503 with Retry-After, then back.
        try await sink.control("down?seconds=2")
        try await peer.control("calls?n=10&rate=0")
        let journaled = try await everyJournaledEventDelivered(to: sink, within: 60)
        let result = try await sink.deliveries()
        let ids = result.accepted.compactMap { $0["webhook-id"] as? String }
        #expect(ids.count == journaled.count, "each event accepted once")
        #expect(result.badSignatures == 0)
        #expect(result.notCloudEvents == 0)
        #expect(result.attempts > ids.count, "failures were retried")
        for entry in result.accepted {
            #expect(
                (entry["body"] as? [String: Any])?["id"] as? String == entry["webhook-id"] as? String,
                "webhook-id is the event id")
        }
        expectInOrderPerCall(result.accepted, journaled: journaled)
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
        let log = try String(contentsOf: directory.appendingPathComponent("run.log"), encoding: .utf8)
        #expect(!log.contains(CRMSink.secret) && !log.contains("t0ken"), "no secret in the logs")
    }

    @Test(
        "a schedule that runs out makes a dead letter that holds its call; deliveries lists it; deliveries retry delivers the call in order"
    )
    func deadLetters() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0", "--missed-ratio", "0"])
        let sink = try await CRMSink.start(["--down-seconds", "600", "--down-status", "500"])
        let config = try configuration(peer, sink)
        var text = try String(contentsOf: config, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "headers_env: {Authorization: ACME_CRM_TOKEN}",
            with: "headers_env: {Authorization: ACME_CRM_TOKEN}\n        retry_schedule: [0s, 0s]")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let relay = try await startRelay(config, "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=2&rate=0")

        func deliveries(_ arguments: [String]) async throws -> String {
            // Without the daemon's secrets: an operator's command needs none.
            let process = try await PeerProcess.launch(
                TestEnvironment.callrelay, ["deliveries"] + arguments + ["--config", config.path], readyLine: false)
            let output = await process.rest()
            #expect(await process.exitStatus() == 0)
            return output
        }
        // Each call's first event dies; its two later events wait behind it rather than overtake it.
        try await eventually("two dead letters", within: 30) {
            try await deliveries(["list", "--dead", "--json"]).split(separator: "\n").count == 2
        }
        let journaled = try await journaledIds()
        #expect(journaled.count == 6)
        let summary = try await deliveries(["list"])
        #expect(summary.contains("4 pending") && summary.contains("2 dead") && summary.contains("HTTP 500"), "\(summary)")
        #expect(try await sink.deliveries().accepted.isEmpty)
        #expect(try await sink.deliveries().attempts == 6, "three attempts for each first event, none for the held ones")

        try await sink.control("up")
        _ = try await deliveries(["retry"])
        try await eventually("the calls delivered after retry", within: 30) {
            try await sink.deliveries().accepted.count == 6
        }
        expectInOrderPerCall(try await sink.deliveries().accepted, journaled: journaled)
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
    }

    @Test("410 stops only its own endpoint after the attempts in flight; the other endpoint gets everything")
    func goneAndIsolation() async throws {
        let peer = try await XelionPeer.start()
        let gone = try await CRMSink.start(["--down-seconds", "600", "--down-status", "410"])
        let healthy = try await CRMSink.start()
        let config = try configuration(peer, healthy)
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "    webhooks:\n",
            with: "    webhooks:\n      - url: \(gone.url)\n        secret_env: ACME_WEBHOOK_SECRET\n")
        try text.write(to: config, atomically: true, encoding: .utf8)
        let relay = try await startRelay(config, "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=5&rate=0")
        try await eventually("the first delivery reached the gone endpoint") { try await gone.deliveries().attempts >= 1 }
        try await peer.control("calls?n=5&rate=0")
        _ = try await everyJournaledEventDelivered(to: healthy)
        // Only the attempts already in flight when the first 410 came (at most the endpoint's
        // concurrency, 16); none of the later calls' events.
        let attempts = try await gone.deliveries().attempts
        #expect(attempts >= 1 && attempts <= 16, "a 410 endpoint is not tried again: \(attempts) attempts")
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
        let log = try String(contentsOf: directory.appendingPathComponent("run.log"), encoding: .utf8)
        #expect(log.contains("410 Gone: deliveries to it are stopped"))
    }

    @Test(
        "the CRM down while calls go on, with the default schedule: when it is back the backlog drains at once, in order per call"
    )
    func outage() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0.3"])
        // Down from the start, answering 503 without Retry-After; up again by itself after 15 s.
        let sink = try await CRMSink.start(["--down-seconds", "15", "--down-status", "503"])
        let relay = try await startRelay(try configuration(peer, sink), "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        let calls = 30
        try await peer.control("calls?n=\(calls)&rate=3")
        _ = try await peer.manifestWhenPlayed()
        // The default schedule retries after 5 s, then 5 min, then 30 min: waiting it out would take
        // half an hour. The endpoint is noticed back within a probe's interval (30 s) instead.
        let journaled = try await everyJournaledEventDelivered(to: sink, within: 75)
        let result = try await sink.deliveries()
        #expect(result.accepted.count == journaled.count, "each event accepted once")
        expectInOrderPerCall(result.accepted, journaled: journaled)
        // During the outage only each call's first waiting event was tried, and the 503s paused the
        // endpoint: the CRM was not hammered.
        let failed = result.attempts - result.accepted.count
        #expect(failed >= 1 && failed <= 2 * calls, "\(failed) failed attempts for \(calls) calls")
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
        let log = try String(contentsOf: directory.appendingPathComponent("run.log"), encoding: .utf8)
        #expect(log.contains("the endpoint answers again"))
    }

    @Test(
        "a renamed endpoint's backlog: warned about at start, listed as not configured, moved to the new URL and delivered in order"
    )
    func renamedEndpoint() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0", "--missed-ratio", "0"])
        let old = try await CRMSink.start(["--down-seconds", "600", "--down-status", "503"])
        let config = try configuration(peer, old)
        var relay = try await startRelay(config, "run-old")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=2&rate=0")
        _ = try await peer.manifestWhenPlayed()
        try await eventually("journaled") { try await journaledIds().count == 6 }
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)

        // The operator renames the endpoint.
        let new = try await CRMSink.start()
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: old.url, with: new.url)
        try text.write(to: config, atomically: true, encoding: .utf8)
        relay = try await startRelay(config, "run-new")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        let log = directory.appendingPathComponent("run-new.log")
        try await eventually("the warning at start") {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.contains("no longer configured") && text.contains("pending=6")
        }

        func deliveries(_ arguments: [String]) async throws -> (String, Int32) {
            let process = try await PeerProcess.launch(
                TestEnvironment.callrelay, ["deliveries"] + arguments + ["--config", config.path], readyLine: false)
            let output = await process.rest()
            return (output, await process.exitStatus())
        }
        let listed = try await deliveries(["list"]).0
        #expect(listed.contains("acme \(old.url) (not configured)  6 pending"), "\(listed)")
        let (refused, status) = try await deliveries([
            "move", "--from", "acme \(old.url)", "--to", "acme https://nowhere.example/",
        ])
        #expect(status == 2, "\(refused)")
        let moved = try await deliveries(["move", "--from", "acme \(old.url)", "--to", "acme \(new.url)"])
        #expect(moved.1 == 0 && moved.0.contains("6 deliveries moved"), "\(moved.0)")
        // The running daemon finds them at its next look at the journal.
        let journaled = try await everyJournaledEventDelivered(to: new, within: 30)
        expectInOrderPerCall(try await new.deliveries().accepted, journaled: journaled)
        #expect(!(try await deliveries(["list"]).0.contains("not configured")))
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
    }

    @Test(
        "the CRM down while the relay is killed four times, then back while it is killed four more: everything journaled reaches it within a minute of its return, under its ids"
    )
    func outageAcrossRestarts() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0.3"])
        // 500 is an outage that does not pause the endpoint, so every call's first event fails twice
        // within seconds.
        let sink = try await CRMSink.start(["--down-seconds", "600", "--down-status", "500"])
        let config = try configuration(peer, sink)
        // After a second failure the next try is ten minutes away, as the default schedule's third is
        // five: only the outage's end can bring it forward.
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "headers_env: {Authorization: ACME_CRM_TOKEN}",
            with: "headers_env: {Authorization: ACME_CRM_TOKEN}\n        retry_schedule: [0s, 10m, 10m, 10m]")
        try text.write(to: config, atomically: true, encoding: .utf8)
        var relay = try await startRelay(config, "run-0")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        // About 8 s of calls while the CRM is down: each call's first event fails twice.
        try await peer.control("calls?n=40&rate=5")
        var random = SplitMix(state: UInt64(Date().timeIntervalSince1970))
        func restart(_ round: Int) async throws {
            // Random moments, not a synchronisation: what is in flight when the kill comes varies.
            try await Task.sleep(for: .milliseconds(Int.random(in: 300..<1500, using: &random)))
            kill(relay.process.processIdentifier, SIGKILL)
            _ = await relay.exitStatus()
            relay = try await startRelay(config, "run-\(round)")
            try await eventually("subscribed again") { try await peer.subscribedTenants() == ["acme"] }
        }
        for round in 1...4 { try await restart(round) }
        _ = try await peer.manifestWhenPlayed()
        // Until the journaled calls' first events have failed twice: their next tries are minutes
        // away. (Calls played while no relay was subscribed are gaps: the PBX does not replay them.)
        try await eventually("the calls' first events failed twice", within: 60) {
            let calls = Set(try await RelayProcess.tail(data).compactMap { $0["subject"] as? String }).count
            return try await sink.deliveries().attempts >= 2 * calls
        }
        #expect(try await sink.deliveries().accepted.isEmpty)
        try await sink.control("up")
        for round in 5...8 { try await restart(round) }
        let journaled = try await everyJournaledEventDelivered(to: sink, within: 60)
        let accepted = try await sink.deliveries().accepted
        for entry in accepted {
            #expect((entry["body"] as? [String: Any])?["id"] as? String == entry["webhook-id"] as? String)
        }
        #expect(Set(accepted.compactMap { $0["webhook-id"] as? String }) == Set(journaled), "under the ids they had")
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
    }

    @Test("an endpoint that comes back refusing events (4xx) is not probed in a loop")
    func probeAnsweredWithRefusal() async throws {
        let peer = try await XelionPeer.start(["--transfer-ratio", "0", "--missed-ratio", "0"])
        let down = try await CRMSink.start(["--down-seconds", "600", "--down-status", "503"])
        let relay = try await startRelay(try configuration(peer, down), "run")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("calls?n=2&rate=0")
        // Each call's first event fails, fails again at once and once more 5 s later (the first 503
        // pauses the endpoint for those 5 s, so one call's second try may wait for them too). After
        // the fifth failure the next retry is 5 min away and the endpoint pauses for 30 s: what comes
        // next is the probe, 30 s after the last failure.
        try await eventually("the endpoint paused after the third failure", within: 30) {
            try await down.deliveries().attempts >= 5
        }
        let paused = Date()
        down.process.stop()
        let refusing = try await CRMSink.start(["--down-seconds", "600", "--down-status", "400"], port: down.port)
        try await eventually("the probe", within: 60) {
            guard Date() > paused.addingTimeInterval(32) else { return false }
            return try await refusing.deliveries().attempts >= 1
        }
        // Watching for what must not happen: a probe loop would post hundreds of times in this window.
        try await Task.sleep(for: .seconds(3))
        let attempts = try await refusing.deliveries().attempts
        #expect(attempts <= 3, "the probe and the other call's expedited retry, then the schedule: \(attempts)")
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
    }

    @Test("SIGKILL at random moments under load and while a backlog drains: every journaled event reaches the CRM, under one id")
    func killedAtRandom() async throws {
        let seed = UInt64(Date().timeIntervalSince1970)
        var random = SplitMix(state: seed)
        let peer = try await XelionPeer.start(["--transfer-ratio", "0.3"])
        // A CRM slower than the PBX (80 ms an event, two calls at a time: some 6 calls a second against
        // the PBX's 10), so that a backlog builds up and drains across the kills.
        let sink = try await CRMSink.start(["--delay-ms", "80"])
        let config = try configuration(peer, sink)
        let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "headers_env: {Authorization: ACME_CRM_TOKEN}",
            with: "headers_env: {Authorization: ACME_CRM_TOKEN}\n        concurrency: 2")
        try text.write(to: config, atomically: true, encoding: .utf8)
        var relay = try await startRelay(config, "run-0")
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        // About 10 s of calls, 4 events each, while the relay is killed and restarted four times.
        try await peer.control("calls?n=100&rate=10")
        for round in 1...4 {
            // Random moments, not a synchronisation: what is being written or sent when the kill comes
            // is what varies.
            try await Task.sleep(for: .milliseconds(Int.random(in: 200..<2000, using: &random)))
            kill(relay.process.processIdentifier, SIGKILL)
            _ = await relay.exitStatus()
            relay = try await startRelay(config, "run-\(round)")
            try await eventually("subscribed again") { try await peer.subscribedTenants() == ["acme"] }
        }
        _ = try await peer.manifestWhenPlayed()
        let journaled = try await everyJournaledEventDelivered(to: sink, within: 90)
        let accepted = try await sink.deliveries().accepted
        for entry in accepted {
            #expect(
                (entry["body"] as? [String: Any])?["id"] as? String == entry["webhook-id"] as? String,
                "the same id in the header and the body (seed \(seed))")
        }
        // A kill between a 2xx and its record sends that event again, under the same id; never under
        // another one.
        #expect(
            Set(accepted.compactMap { $0["webhook-id"] as? String }).count == journaled.count,
            "one id per journaled event (seed \(seed))")
        #expect(journaled.count > 100, "the kills came while events flowed")
        kill(relay.process.processIdentifier, SIGTERM)
        #expect(await relay.exitStatus() == 0)
    }
}
