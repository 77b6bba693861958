import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL
import TestSupport
import Testing
import Xelion

@testable import Relay

/// A tenant source against the Python Xelion test peer, an independent implementation, over TLS.
@Suite("Tenant source against the Xelion peer", .serialized, .timeLimit(.minutes(2)))
struct XelionTenantSourceTests {
    /// A running source with everything it emitted.
    struct Running {
        let source: XelionTenantSource
        let task: Task<Void, Never>
        let collected: Collected
        let dataDirectory: URL
        let http: HTTPClient
        let signsOfLife: SignsOfLife?

        /// Stops the source and, as the daemon does, writes down where its stream stopped.
        func stop() async {
            task.cancel()
            await task.value
            _ = try? signsOfLife?.flush()
            try? await http.shutdown()
        }
    }

    func start(
        _ peer: XelionPeer,
        tenant: String = "acme",
        password: String = "secret",
        data: URL = TestEnvironment.temporaryDirectory(),
        keepsSignOfLife: Bool = false,
        tweak: (inout TenantSourceConfiguration) -> Void = { _ in },
        wallClock: @escaping @Sendable () -> Date = { Date() }
    ) -> Running {
        var configuration = TenantSourceConfiguration(
            tenant: tenant,
            credentials: peer.credentials(tenant: tenant, password: password),
            caFile: peer.caFile,
            backoff: Backoff(base: .milliseconds(50), cap: .milliseconds(400))
        )
        tweak(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel =
            ProcessInfo.processInfo.environment["CALLRELAY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        // The source's own client, as in the daemon: it outlives any one PBX process.
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = peer.caFile { tls.additionalTrustRoots = [.file(caFile)] }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        // Short-lived test tokens renew within the test, not a minute later.
        let session = XelionSession(
            credentials: configuration.credentials, http: http, logger: logger, minimumRenewalInterval: .milliseconds(200))
        let collected = Collected()
        let signsOfLife = keepsSignOfLife ? SignsOfLife(dataDirectory: data) : nil
        let source = XelionTenantSource(
            configuration: configuration,
            session: session,
            gaps: GapLog(dataDirectory: data),
            deadLetters: DeadLetterFile(dataDirectory: data),
            logger: logger,
            signsOfLife: signsOfLife,
            wallClock: wallClock
        ) { event in await collected.add(event) }
        let task = Task { await source.run() }
        return Running(
            source: source, task: task, collected: collected, dataDirectory: data, http: http, signsOfLife: signsOfLife)
    }

    /// Plays `n` calls and waits until the source has every event the peer sent.
    func playCalls(_ n: Int, on peer: XelionPeer, into running: Running, tenants: Int = 1) async throws {
        let before = try peer.manifest().count
        try await peer.control("calls?n=\(n)")
        var lastSent = -1
        try await eventually("every played event received") {
            // Stable manifest (the peer finished playing) and all of it received.
            let sent = try peer.manifest().count
            let received = await running.collected.count
            defer { lastSent = sent }
            return sent > before && sent == lastSent && received == sent
        }
    }

    @Test("logs in, subscribes to the five call events and receives a played scenario")
    func scenario() async throws {
        let peer = try await XelionPeer.start()
        let running = start(peer)
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await playCalls(10, on: peer, into: running)
        let sent = try peer.manifest().map { $0["callId"] as? String ?? "" }
        let received = await running.collected.callIds()
        #expect(received == sent, "every event, in order, duplicates included (dedupe is the next stage)")
        #expect(running.source.status.events == sent.count)
        await running.stop()
        let stats = try await peer.stats()
        #expect(stats["logins"] as? Int == 1)
        let codes = stats["client_close_codes"] as? [String: Int] ?? [:]
        #expect(codes["1001"] == 1, "shutdown closes the socket with 1001")
        #expect(running.source.status.state == .stopped)
    }

    @Test("survives every session token expiring, renewing and logging in again without a single 10005")
    func tokenExpiry() async throws {
        let peer = try await XelionPeer.start(["--token-ttl", "2"])
        let running = start(peer)
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await eventually("a renewal before validUntil") { (try await peer.stats()["renewals"] as? Int ?? 0) >= 1 }
        try await peer.control("expire")
        try await peer.control("drop?how=close")
        try await eventually("resubscribed after the drop") {
            let connections = try await peer.stats()["connections"] as? Int ?? 0
            let subscribed = try await peer.subscribedTenants()
            return connections >= 2 && subscribed == ["acme"]
        }
        try await playCalls(3, on: peer, into: running)
        let stats = try await peer.stats()
        #expect(stats["already_logged_in"] as? Int == 0)
        await running.stop()
    }

    @Test(
        "reconnects and resubscribes after a clean close and after a TCP reset, recording each gap",
        arguments: ["close", "reset"])
    func drops(how: String) async throws {
        let peer = try await XelionPeer.start()
        let running = start(peer)
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await playCalls(2, on: peer, into: running)
        try await peer.control("drop?how=\(how)")
        try await eventually("reconnected") {
            let connections = try await peer.stats()["connections"] as? Int ?? 0
            let subscribed = try await peer.subscribedTenants()
            return connections == 2 && subscribed == ["acme"]
        }
        try await playCalls(2, on: peer, into: running)
        let received = await running.collected.count
        #expect(received == (try peer.manifest().count))
        try await eventually("the gap recorded") { running.source.status.gaps == 1 }
        let gaps = try GapLog(dataDirectory: running.dataDirectory).all()
        #expect(gaps.count == 1)
        #expect(gaps.first.map { gap in gap.end.map { $0 >= gap.start } ?? false } == true)
        #expect(gaps.first?.tenant == "acme")
        #expect(running.source.status.drops == 1)
        await running.stop()
    }

    @Test("a subscribed socket dropped every 2 s for a minute is back within 5 s each time, with the default backoff")
    func churn() async throws {
        let peer = try await XelionPeer.start()
        // The production policy: a 1 s base doubling to 60 s for attempts that fail.
        let running = start(peer) { $0.reconnect = ReconnectPolicy() }
        for drop in 0..<20 {
            try await eventually("subscribed") {
                let connections = try await peer.stats()["connections"] as? Int ?? 0
                let subscribed = try await peer.subscribedTenants()
                return connections == drop + 1 && subscribed == ["acme"]
            }
            // The PBX (or a load balancer) holds each socket two seconds.
            try await Task.sleep(for: .seconds(2))
            try await peer.control("drop?how=\(drop % 2 == 0 ? "close" : "reset")")
            let dropped = ContinuousClock.now
            try await eventually("resubscribed") {
                let count = try await peer.stats()["connections"] as? Int ?? 0
                let subscribed = try await peer.subscribedTenants()
                return count == drop + 2 && subscribed == ["acme"]
            }
            let back = dropped.duration(to: .now)
            #expect(back < .seconds(5), "drop \(drop + 1) took \(back)")
        }
        #expect(running.source.status.drops == 20)
        await running.stop()
    }

    @Test("the wall clock stepped an hour back neither fails the liveness check nor forces a reconnect")
    func clockStep() async throws {
        let peer = try await XelionPeer.start()
        let step = NIOLockedValueBox(0.0)
        let running = start(
            peer,
            tweak: {
                // Each check's echo may take 1.5 s on a busy machine; before the fix, every check
                // after the step failed however fast the echo came.
                $0.livenessInterval = .milliseconds(400)
                $0.livenessTimeout = .milliseconds(1500)
            },
            wallClock: { Date().addingTimeInterval(step.withLockedValue { $0 }) })
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        step.withLockedValue { $0 = -3600 }
        // Watching for what must not happen: some ten liveness checks, each answered, under the stepped clock.
        try await Task.sleep(for: .seconds(5))
        #expect(running.source.status.drops == 0)
        #expect(try await peer.stats()["connections"] as? Int == 1)
        await running.stop()
    }

    @Test("the downtime of the relay itself is a gap: open while it is stopped, closed by the next subscription")
    func gapAcrossRestart() async throws {
        let peer = try await XelionPeer.start()
        let data = TestEnvironment.temporaryDirectory()
        let first = start(peer, data: data, keepsSignOfLife: true)
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await playCalls(1, on: peer, into: first)
        await first.stop()
        let open = try GapLog(dataDirectory: data).all()
        #expect(open.count == 1)
        #expect(open.first?.end == nil, "open while the relay is down")

        let second = start(peer, data: data, keepsSignOfLife: true)
        try await eventually("the gap closed") { (try GapLog(dataDirectory: data).all().first?.end) != nil }
        let gaps = try GapLog(dataDirectory: data).all()
        #expect(gaps.count == 1, "the open record is replaced by the closed one: \(gaps)")
        let gap = try #require(gaps.first)
        #expect(abs(gap.start.timeIntervalSince(try #require(open.first).start)) < 1)
        #expect(gap.cause.contains("not running"))
        await second.stop()
    }

    @Test("after a kill -9, the gap runs from the last sign of life on file to the new subscription")
    func gapAfterKill() async throws {
        let peer = try await XelionPeer.start()
        let data = TestEnvironment.temporaryDirectory()
        // What a killed relay leaves: a sign of life, and no open gap.
        let killedAt = Date().addingTimeInterval(-120)
        let left = SignsOfLife(dataDirectory: data)
        left.record(killedAt, tenant: "acme")
        try left.flush()
        let running = start(peer, data: data, keepsSignOfLife: true)
        try await eventually("the gap recorded") { try GapLog(dataDirectory: data).all().count == 1 }
        let gap = try #require(try GapLog(dataDirectory: data).all().first)
        #expect(abs(gap.start.timeIntervalSince(killedAt)) < 1)
        // The gap log keeps whole seconds.
        #expect(try #require(gap.end).timeIntervalSince(killedAt) >= 119)
        #expect(running.source.status.gaps == 1)
        await running.stop()
    }

    @Test("waits out a PBX that is down and carries on when it is back")
    func pbxDown() async throws {
        let directory = TestEnvironment.temporaryDirectory()
        var peer: XelionPeer? = try await XelionPeer.start(["--plain"], directory: directory)
        let ports = try (rest: #require(peer?.restPort), ws: #require(peer?.wsPort))
        let running = start(try #require(peer))
        try await eventually("subscribed") { try await peer?.subscribedTenants() == ["acme"] }
        peer?.stop()
        peer = nil
        // While the PBX is away the source keeps trying (the HTTP client retries its connection within
        // the request's deadline, then our backoff applies); it must come back when the PBX does.
        try await eventually("the drop noticed") { running.source.status.drops == 1 }
        #expect(running.source.status.state != .subscribed)
        // The same ports again; one may have been taken meanwhile as the local port of another test's
        // outgoing connection (they come from the ephemeral range), so the start is retried until it binds.
        var restarted: XelionPeer?
        for _ in 0..<50 where restarted == nil {
            restarted = try? await XelionPeer.start(["--plain"], ports: ports, directory: directory)
            if restarted == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let back = try #require(restarted, "the PBX could not be restarted on its ports")
        try await eventually("resubscribed to the restarted PBX") { try await back.subscribedTenants() == ["acme"] }
        try await playCalls(2, on: back, into: running)
        try await eventually("the gap recorded") { running.source.status.gaps == 1 }
        await running.stop()
    }

    @Test("three tenants at once: a wrong password stops only its own tenant")
    func isolation() async throws {
        let peer = try await XelionPeer.start([
            "--user", "acme:admin:secret", "--user", "beta:admin:secret", "--user", "gamma:admin:secret",
        ])
        let acme = start(peer, tenant: "acme")
        let beta = start(peer, tenant: "beta")
        let gamma = start(peer, tenant: "gamma", password: "wrong")
        try await eventually("two tenants subscribed") { Set(try await peer.subscribedTenants()) == ["acme", "beta"] }
        try await eventually("gamma refused") { gamma.source.status.lastError?.contains("10004") == true }
        try await peer.control("calls?n=3")
        var lastSent = -1
        try await eventually("both healthy tenants received every event") {
            let sent = try peer.manifest().count
            let (a, b) = (await acme.collected.count, await beta.collected.count)
            defer { lastSent = sent }
            return sent > 0 && sent == lastSent && a == sent && b == sent
        }
        let refused = await gamma.collected.count
        #expect(refused == 0)
        #expect(gamma.source.status.state == .waiting)
        let stats = try await peer.stats()
        #expect(stats["rejected_logins"] as? Int == 1, "a wrong password is retried slowly, not hammered")
        for running in [acme, beta, gamma] { await running.stop() }
    }

    @Test("keeps malformed messages aside, counts unknown types, and carries on")
    func malformed() async throws {
        let peer = try await XelionPeer.start()
        let running = start(peer)
        try await eventually("subscribed") { try await peer.subscribedTenants() == ["acme"] }
        try await peer.control("raw", body: "{not json")
        try await peer.control("raw", body: #"{"notificationType":"wallboardEvent","notification":{}}"#)
        try await peer.control("raw", body: #"{"notificationType":"newCallEvent","notification":{"date":"2026-11-27 10:00:00"}}"#)
        try await playCalls(1, on: peer, into: running)
        try await eventually("counted") {
            running.source.status.malformed == 2 && running.source.status.unknownNotifications == 1
        }
        let letters = try DeadLetterFile(dataDirectory: running.dataDirectory).all()
        #expect(
            letters.map(\.message) == [
                "{not json", #"{"notificationType":"newCallEvent","notification":{"date":"2026-11-27 10:00:00"}}"#,
            ])
        #expect(letters.allSatisfy { $0.tenant == "acme" && !$0.reason.isEmpty })
        await running.stop()
    }

    @Test("drops a connection whose liveness check goes unanswered")
    func liveness() async throws {
        let peer = try await XelionPeer.start()
        // The peer echoes the check; a timeout shorter than the loopback round trip cannot be met.
        let running = start(peer) {
            $0.livenessInterval = .milliseconds(200)
            $0.livenessTimeout = .zero
        }
        // On a busy machine the echo can beat even a zero timeout now and then; one check in many fails.
        try await eventually("a liveness drop", within: 60) { running.source.status.lastError?.contains("liveness") == true }
        await running.stop()
    }
}
