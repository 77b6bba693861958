import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Testing
import Xelion

@testable import Relay

/// Neither a CRM endpoint nor the PBX can redirect callrelay: a 3xx is a failed attempt, never
/// followed, and the log names where it pointed.
@Suite("Redirects are never followed", .timeLimit(.minutes(1)))
struct RedirectTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redirects-\(UUID().uuidString)")
    let pbx = Notifications()

    /// Commits one event, runs a deliverer for `url` until the journal records its first attempt,
    /// and returns the endpoint's backlog and the log.
    func deliverOnce(to url: String) async throws -> (EndpointBacklog, [RecordingLogHandler.Record]) {
        let endpoint = RelayConfiguration.WebhookEndpoint(
            url: url, secrets: ["whsec_" + Data(repeating: 7, count: 32).base64EncodedString()],
            headers: [(name: "Authorization", value: "Bearer crm-token")], schedule: RetrySchedule(delays: [.seconds(600)]))
        let route = DeliveryRoute(tenant: "acme", url: url, types: [])
        let journal = try Journal(directory: directory, routes: ["acme": [route]])
        _ = try await journal.commit([pbx.event(.newCallEvent, call: "one")])
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: RelayDaemon.webhookClientConfiguration(endpoint))
        let (logger, records) = RecordingLogHandler.logger()
        let deliverer = try WebhookDeliverer(tenant: "acme", endpoint: endpoint, journal: journal, http: http, logger: logger)
        let running = Task { await deliverer.run() }
        var backlog: EndpointBacklog?
        for _ in 0..<500 {
            backlog = try journal.backlog().first
            if let backlog, backlog.lastError != nil || backlog.delivered > 0 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        running.cancel()
        await running.value
        try await http.shutdown()
        return (try #require(backlog), records.all)
    }

    @Test("a 301 from the CRM is a failed attempt naming the Location; no GET follows, nothing is recorded delivered")
    func movedPermanently() async throws {
        let crm = try await ScriptedHTTPServer.start { request in
            request.uri == "/hooks"
                ? .init(status: .movedPermanently, headers: [("Location", "/hooks/")]) : .init(status: .ok)
        }
        defer { Task { await crm.stop() } }
        let (backlog, log) = try await deliverOnce(to: crm.url("/hooks"))
        #expect(backlog.delivered == 0)
        #expect(backlog.pending == 1)
        #expect(backlog.lastError?.contains("HTTP 301") == true)
        #expect(backlog.lastError?.contains("redirect to /hooks/ not followed") == true)
        #expect(crm.requests.map { "\($0.method) \($0.uri)" } == ["POST /hooks"])
        #expect(log.contains { $0.message.contains("delivery failed") && "\($0.metadata["error"] ?? "")".contains("/hooks/") })
    }

    @Test("a 307 to another host does not carry the body, the signature or the custom headers there")
    func temporaryRedirectElsewhere() async throws {
        let elsewhere = try await ScriptedHTTPServer.start { _ in .init(status: .ok) }
        defer { Task { await elsewhere.stop() } }
        let target = elsewhere.url("/steal?x=1")
        let crm = try await ScriptedHTTPServer.start { _ in .init(status: .temporaryRedirect, headers: [("Location", target)]) }
        defer { Task { await crm.stop() } }
        let (backlog, _) = try await deliverOnce(to: crm.url("/hooks"))
        #expect(elsewhere.requests.isEmpty, "nothing reached the host the redirect named")
        #expect(backlog.delivered == 0)
        #expect(backlog.lastError?.contains("HTTP 307") == true)
        #expect(backlog.lastError?.contains("x=1") == false, "the query of the Location is not logged")
    }

    @Test("the PBX login is never re-sent where a redirect points; the error names the Location")
    func pbxLogin() async throws {
        let elsewhere = try await ScriptedHTTPServer.start { _ in .init(status: .ok, body: #"{"authentication":"t"}"#) }
        defer { Task { await elsewhere.stop() } }
        let target = elsewhere.url("/api/v1/acme/me/login")
        let pbx = try await ScriptedHTTPServer.start { _ in .init(status: .permanentRedirect, headers: [("Location", target)]) }
        defer { Task { await pbx.stop() } }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: XelionSourceFactory.clientConfiguration(caFile: nil))
        let session = XelionSession(
            credentials: XelionCredentials(
                baseURL: pbx.url("/api/v1/acme/"), userName: "admin", password: "pw-secret", userSpace: "callrelay-acme"),
            http: http, logger: Logger(label: "test"))
        await #expect {
            try await session.login()
        } throws: { error in
            guard let error = error as? XelionError, error.code == .rejected else { return false }
            return error.status == 308 && error.message?.contains(target) == true
        }
        #expect(elsewhere.requests.isEmpty, "the password went nowhere else")
        try await http.shutdown()
    }
}

@Suite("The PBX's socket URL")
struct SocketURLPolicyTests {
    @Test("a ws:// socket URL from a PBX configured over https:// is refused; wss:// and a plain PBX's ws:// are not")
    func clearSocketRefused() throws {
        #expect(throws: XelionError.self) {
            try XelionSession.checkSocketURL("ws://pbx.example.com/ws/token", baseURL: "https://pbx.example.com/api/v1/acme/")
        }
        #expect(throws: XelionError.self) {
            try XelionSession.checkSocketURL("WS://pbx.example.com/ws/token", baseURL: "HTTPS://pbx.example.com/api/v1/acme/")
        }
        try XelionSession.checkSocketURL("wss://pbx.example.com/ws/token", baseURL: "https://pbx.example.com/api/v1/acme/")
        try XelionSession.checkSocketURL("ws://127.0.0.1:8444/ws/token", baseURL: "http://127.0.0.1:8443/api/v1/acme/")
    }
}
