import Foundation
import TestSupport
import Testing

@testable import Relay

@Suite("Standard Webhooks signing and the retry schedule")
struct WebhookSignerTests {
    static let secret = "whsec_" + Data((0..<24).map { UInt8($0 * 7 % 256) }).base64EncodedString()
    static let other = "whsec_" + Data((0..<32).map { UInt8($0 * 13 % 256) }).base64EncodedString()

    /// Runs `Peers/verify_webhook.py` (the `standardwebhooks` library) over the cases.
    func verify(_ cases: [(secret: String, body: String, headers: [(name: String, value: String)])]) async throws -> [Bool] {
        let lines = try cases.map { item in
            let object: [String: Any] = [
                "secret": item.secret, "body": item.body,
                "headers": Dictionary(item.headers.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }),
            ]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        return try await offThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.python)
            process.arguments = [
                TestEnvironment.repositoryRoot.appendingPathComponent("Tests/RelayTests/Peers/verify_webhook.py").path
            ]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.contains(#""ok": true"#) }
        }
    }

    @Test("the standard's own library verifies our signatures, with one secret and during a rotation; a wrong secret fails")
    func signatures() async throws {
        let body = #"{"specversion":"1.0","id":"evt_1","data":{"note":"ünïcode ✓"}}"#
        let single = try WebhookSigner(secrets: [Self.secret]).headers(id: "evt_1", timestamp: Date(), body: body)
        let rotating = try WebhookSigner(secrets: [Self.other, Self.secret]).headers(id: "evt_1", timestamp: Date(), body: body)
        let results = try await verify([
            (Self.secret, body, single),
            (Self.secret, body, rotating),
            (Self.other, body, rotating),
            (Self.other, body, single),
            (Self.secret, body + " ", single),
        ])
        #expect(results == [true, true, true, false, false])
        #expect(single.map(\.name) == ["webhook-id", "webhook-timestamp", "webhook-signature"])
        #expect(rotating.last?.value.split(separator: " ").count == 2)
    }

    @Test("a secret that is not base64, too short, or missing is refused without echoing it")
    func badSecrets() {
        #expect(throws: WebhookSigner.InvalidSecret.self) { try WebhookSigner(secrets: ["whsec_not base64!"]) }
        #expect(throws: WebhookSigner.InvalidSecret.self) { try WebhookSigner(secrets: ["whsec_c2hvcnQ="]) }
        #expect(throws: WebhookSigner.InvalidSecret.self) { try WebhookSigner(secrets: []) }
        do {
            _ = try WebhookSigner(secrets: ["whsec_not base64!"])
        } catch {
            #expect(!error.description.contains("not base64!"))
        }
    }

    @Test("the schedule: at once, then 5 s, 5 min ... with jitter; Retry-After stretches within bounds; then a dead letter")
    func schedule() {
        let schedule = RetrySchedule()
        var random = SystemRandomNumberGenerator()
        #expect(schedule.delay(afterFailures: 1, using: &random) == .zero)
        for _ in 0..<100 {
            let second = schedule.delay(afterFailures: 2, using: &random) ?? .zero
            #expect(second >= .milliseconds(4500) && second <= .milliseconds(5500))
        }
        #expect(schedule.delay(afterFailures: 3, retryAfter: .seconds(900), using: &random) == .seconds(900))
        let capped = schedule.delay(afterFailures: 2, retryAfter: .seconds(86400), using: &random) ?? .zero
        #expect(capped == .seconds(3600), "Retry-After is honoured only up to the bound")
        let short = schedule.delay(afterFailures: 4, retryAfter: .seconds(1), using: &random) ?? .zero
        #expect(short >= .seconds(1620), "Retry-After never shortens the schedule")
        #expect(schedule.delay(afterFailures: 8, using: &random) != nil)
        #expect(schedule.delay(afterFailures: 9, using: &random) == nil, "eight attempts after the first, then dead")
    }
}
