import Foundation
import Testing

@testable import Relay

/// The gap log and the dead letters: kept for people to read, and never allowed to fill the disk.
@Suite("Gap log and dead letters")
struct BoundedJSONLinesFileTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("records-\(UUID().uuidString)")

    func letter(_ index: Int) -> DeadLetter {
        DeadLetter(
            tenant: "acme", receivedAt: Date(timeIntervalSince1970: 1_700_000_000 + Double(index)),
            reason: "not JSON", message: "garbage \(index) " + String(repeating: "x", count: 100))
    }

    func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
    }

    @Test("dead letters past the bound move to .1 once, so the newest are kept, in order, and at most twice the bound is on disk")
    func deadLettersBounded() async throws {
        let file = DeadLetterFile(dataDirectory: directory, maxBytes: 1_000)
        for index in 0..<50 { try await file.keep(letter(index)) }
        let kept = try file.all()
        #expect(kept.last == letter(49), "the newest letter is kept")
        #expect(kept.count >= 8 && kept.count < 50, "\(kept.count) letters kept")
        #expect(kept == (50 - kept.count..<50).map(letter), "the newest, oldest first, none missing in between")
        #expect(size(file.url.path) <= 1_000)
        #expect(size(file.url.path + ".1") <= 1_000)
        #expect(!FileManager.default.fileExists(atPath: file.url.path + ".2"))
        let mode = try FileManager.default.attributesOfItem(atPath: file.url.path)[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o007 } == 0, "no access for others")
    }

    @Test("gaps read back across the move, oldest first, and per tenant")
    func gapsAcrossTheMove() async throws {
        let log = GapLog(dataDirectory: directory, maxBytes: 400)
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let gaps = (0..<6).map {
            Gap(
                tenant: $0 % 2 == 0 ? "acme" : "globex", start: start.addingTimeInterval(Double($0) * 60),
                end: start.addingTimeInterval(Double($0) * 60 + 5), cause: "connection lost")
        }
        for gap in gaps { try await log.record(gap) }
        #expect(FileManager.default.fileExists(atPath: log.url.path + ".1"), "the bound was passed")
        let all = try log.all()
        #expect(all == Array(gaps.suffix(all.count)) && all.count >= 3)
        #expect(try log.all(tenant: "acme") == all.filter { $0.tenant == "acme" })
    }
}
