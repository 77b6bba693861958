import AsyncHTTPClient
import Foundation
import Logging
import NIOHTTP1
import Testing
import Xelion

@testable import Relay

/// The session's renewal schedule against a PBX whose `validUntil` cannot be trusted.
@Suite("PBX session renewal", .timeLimit(.minutes(1)))
struct XelionSessionTests {
    func session(validUntil: String) async throws -> (XelionSession, ScriptedHTTPServer, HTTPClient) {
        let body = #"{"authentication":"token-1","renewalToken":"renew-1","validUntil":"\#(validUntil)"}"#
        let pbx = try await ScriptedHTTPServer.start { _ in .init(status: .ok, body: body) }
        let http = HTTPClient(
            eventLoopGroupProvider: .singleton, configuration: XelionSourceFactory.clientConfiguration(caFile: nil))
        let session = XelionSession(
            credentials: XelionCredentials(baseURL: pbx.url("/api/v1/acme/"), userName: "admin", password: "pw", userSpace: "s"),
            http: http, logger: Logger(label: "test"))
        try await session.login()
        return (session, pbx, http)
    }

    func utc(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 0)
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date)
    }

    @Test("a validUntil already past by our clock is unknown: no renewal at once, and none every second")
    func pastValidUntil() async throws {
        // A PBX clock an hour ahead of ours sends a validUntil an hour behind, as local time west of UTC would.
        let (session, pbx, http) = try await session(validUntil: utc(Date().addingTimeInterval(-3600)))
        #expect(await session.renewalDate == nil)
        try await session.refreshIfDue()
        try await session.refreshIfDue()
        #expect(pbx.requests.map(\.uri) == ["/api/v1/acme/me/login"], "no renewal")
        try await http.shutdown()
        await pbx.stop()
    }

    @Test("a validUntil half a minute away is renewed no sooner than a minute after the token came")
    func shortValidUntil() async throws {
        let (session, pbx, http) = try await session(validUntil: utc(Date().addingTimeInterval(30)))
        let due = try #require(await session.renewalDate)
        #expect(due.timeIntervalSinceNow > 55, "\(due)")
        try await session.refreshIfDue()
        #expect(pbx.requests.count == 1)
        try await http.shutdown()
        await pbx.stop()
    }

    @Test("a 429 with an absurd Retry-After is read without trapping")
    func absurdRetryAfter() async throws {
        for value in ["86400", "9223372036854775807", "99999999999999999999", "-3", "soon"] {
            let pbx = try await ScriptedHTTPServer.start { _ in
                .init(status: .tooManyRequests, headers: [("Retry-After", value)], body: #"{"errorCode":10402}"#)
            }
            let http = HTTPClient(
                eventLoopGroupProvider: .singleton, configuration: XelionSourceFactory.clientConfiguration(caFile: nil))
            let session = XelionSession(
                credentials: XelionCredentials(baseURL: pbx.url("/x/"), userName: "a", password: "p", userSpace: "s"),
                http: http, logger: Logger(label: "test"))
            do {
                try await session.login()
                Issue.record("no error for \(value)")
            } catch let error where error.code == .tooManyRequests {
                var policy = ReconnectPolicy()
                let wait = policy.wait(after: .throttled(retryAfter: error.retryAfter))
                #expect(wait <= .seconds(900), "\(value): \(wait)")
            } catch {
                Issue.record("\(value): \(error)")
            }
            try await http.shutdown()
            await pbx.stop()
        }
    }
}
