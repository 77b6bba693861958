import CallEvents
import Foundation
import Testing
import Xelion

@testable import Relay

/// What `callrelay tail -n N` reads: the newest events, paged from a cursor.
@Suite("Journal: the newest events")
struct JournalReadingTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-read-\(UUID().uuidString)")
    let pbx = Notifications()

    @Test("start(ofNewest:) is the cursor after which exactly the newest N matching events follow")
    func newest() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory)
        _ = try await journal.commit((0..<10).map { pbx.event(.newCallEvent, call: "call-\($0)") })
        _ = try await journal.commit((0..<5).map { Notifications(tenant: "other").event(.newCallEvent, call: "other-\($0)") })

        let cursor = try journal.start(ofNewest: 3)
        #expect(try journal.entries(after: cursor, limit: 100).map { $0.sequence } == [13, 14, 15])

        let acme = JournalFilter(tenant: "acme")
        let acmeCursor = try journal.start(ofNewest: 4, matching: acme)
        let acmeCalls = try journal.entries(after: acmeCursor, matching: acme, limit: 100).compactMap {
            try? CallEvent.decode(json: $0.json).data.callId
        }
        #expect(acmeCalls == ["call-6", "call-7", "call-8", "call-9"])

        // More than there are: from the start. None: from the newest, for a follow.
        #expect(try journal.start(ofNewest: 1000) == 0)
        #expect(try journal.start(ofNewest: 0) == 15)
        #expect(try journal.start(ofNewest: 1000, matching: JournalFilter(tenant: "nobody")) == 0)
    }
}
