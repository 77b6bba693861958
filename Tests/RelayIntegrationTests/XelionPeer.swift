import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import TestSupport
import Testing
import Xelion

@testable import Relay

/// the Xelion test peer (`peer/xelion_peer.py`) on free loopback ports, with its control endpoints.
final class XelionPeer: @unchecked Sendable {
    let process: PeerProcess
    let restBase: String
    let caFile: String?
    let http: HTTPClient
    let restPort: Int
    let wsPort: Int
    let directory: URL

    /// - Parameters: extra arguments for the peer (`--user`, `--token-ttl`, `--plain`, ...).
    /// Starts the peer without blocking a concurrency thread while Python starts.
    static func start(
        _ arguments: [String] = [], ports: (rest: Int, ws: Int)? = nil, directory: URL? = nil
    ) async throws -> XelionPeer {
        try await offThread { try XelionPeer(arguments, ports: ports, directory: directory) }
    }

    /// With `ports` nil, on ports found free (fresh ones if those were taken meanwhile).
    private init(_ arguments: [String], ports: (rest: Int, ws: Int)?, directory: URL?) throws {
        let directory = directory ?? TestEnvironment.temporaryDirectory()
        self.directory = directory
        let ca = directory.appendingPathComponent("peer-ca.pem").path
        func launch(_ ports: (rest: Int, ws: Int)) throws -> PeerProcess {
            try PeerProcess(
                TestEnvironment.python,
                [
                    TestEnvironment.sharedPeers.appendingPathComponent("xelion_peer.py").path,
                    "--rest-port", "\(ports.rest)", "--ws-port", "\(ports.ws)", "--ca-out", ca,
                    "--manifest", directory.appendingPathComponent("manifest.jsonl").path,
                ] + arguments
            )
        }
        let chosen =
            try ports.map { ($0, try launch($0)) }
            ?? onFreePorts(2) { ports in
                let free = (rest: ports[0], ws: ports[1])
                return (free, try launch(free))
            }
        (restPort, wsPort) = (chosen.0.rest, chosen.0.ws)
        process = chosen.1
        guard let rest = process.ready["rest"] as? String else { throw PeerError(description: "no REST URL: \(process.ready)") }
        restBase = rest
        caFile = process.ready["ca"] as? String
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    deinit {
        process.stop()
        try? http.syncShutdown()
    }

    func stop() { process.stop() }

    func credentials(tenant: String = "acme", user: String = "admin", password: String = "secret") -> XelionCredentials {
        XelionCredentials(baseURL: restBase + tenant + "/", userName: user, password: password, userSpace: "callrelay-\(tenant)")
    }

    /// POSTs (or GETs) a control endpoint and returns its JSON answer.
    @discardableResult
    func control(_ action: String, method: HTTPMethod = .POST, body: String? = nil) async throws -> [String: Any] {
        let origin = restBase.replacingOccurrences(of: "/api/v1/", with: "")
        var request = HTTPClientRequest(url: origin + "/_control/" + action)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await http.execute(request, timeout: .seconds(10))
        let data = try await response.body.collect(upTo: 1 << 22)
        return (try JSONSerialization.jsonObject(with: Data(data.readableBytesView)) as? [String: Any]) ?? [:]
    }

    func state() async throws -> [String: Any] { try await control("state", method: .GET) }

    func stats() async throws -> [String: Any] { (try await state())["stats"] as? [String: Any] ?? [:] }

    /// Tenants with a live connection subscribed to all five call events.
    func subscribedTenants() async throws -> [String] {
        let connections = (try await state())["connections"] as? [[String: Any]] ?? []
        return connections.filter {
            Set($0["subscribed"] as? [String] ?? []).isSuperset(of: XelionCallEventType.allCases.map(\.rawValue))
        }
        .compactMap { $0["tenant"] as? String }
    }

    /// Every event the peer sent, from its manifest.
    /// The manifest once the peer has stopped sending: unchanged for `settle`. The peer gives no
    /// signal that a played batch is over; its manifest is written as each event goes out.
    func manifestWhenPlayed(settle: Duration = .seconds(1)) async throws -> [[String: Any]] {
        var entries: [[String: Any]] = []
        var stableSince = ContinuousClock.now
        try await eventually("the peer played every call", within: 60) {
            let now = try manifest()
            if now.count != entries.count {
                entries = now
                stableSince = .now
            }
            return !entries.isEmpty && ContinuousClock.now - stableSince >= settle
        }
        return entries
    }

    func manifest() throws -> [[String: Any]] {
        let url = directory.appendingPathComponent("manifest.jsonl")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// Waits for a condition that some other party makes true, checking it every 50 ms, up to a deadline.
/// (The peer offers no push notification of its state; this polls a state endpoint, it does not
/// sleep in place of a signal.)
func eventually(_ what: String, within seconds: Double = 15, _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw PeerError(description: "timed out waiting for: \(what)")
}

/// Collects what a source emits.
actor Collected {
    var events: [TenantEvent] = []
    func add(_ event: TenantEvent) { events.append(event) }
    var count: Int { events.count }
    func callIds() -> [String] { events.map(\.event.callId) }
}
