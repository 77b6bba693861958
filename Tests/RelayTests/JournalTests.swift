import CallEvents
import CallRelayCore
import Foundation
import GRDB
import Logging
import Testing
import Xelion

@testable import Relay

/// Builds Xelion notifications the way the PBX sends them.
struct Notifications {
    var tenant = "acme"
    var date = "2026-11-27 08:00:05"

    func event(
        _ type: XelionCallEventType, call: String, callerFlow: String? = "flow-c", calleeFlow: String? = "flow-a",
        caller: String = "+31201234567", callee: String = "anna", date: String? = nil, received: Date = Date()
    ) -> CallEvent {
        var object: [String: JSONValue] = ["initiation": "incoming", "date": .string(date ?? self.date), "callId": .string(call)]
        if let callerFlow {
            object["callerFlowId"] = .string(callerFlow)
            object["callerPhoneNumber"] = .string(caller)
        }
        if let calleeFlow {
            object["calleeFlowId"] = .string(calleeFlow)
            object["calleeUser"] = .string(callee)
        }
        if type == .callHungUpEvent { object["duration"] = "30" }
        // A notification built here always has a callId, so decoding cannot fail.
        let decoded = (try? XelionCallEvent(type: type, notification: .object(object)))!
        return XelionMapping(tenant: tenant).normalize(decoded, receivedAt: received)
    }
}

@Suite("Journal: dedupe, transfers, durability")
struct JournalTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
    let pbx = Notifications()

    func open(_ options: JournalOptions = .init()) throws(JournalError) -> Journal {
        try Journal(directory: directory, options: options)
    }

    @Test("the repeated consult hangup is stored once, even with a later date; the transfer's other hangups are kept")
    func transferHangups() async throws {
        let journal = try open()
        let events = [
            pbx.event(.callHungUpEvent, call: "first", callerFlow: "c", calleeFlow: "a"),
            pbx.event(.callHungUpEvent, call: "consult", callerFlow: "a2", calleeFlow: "b"),
            pbx.event(.callHungUpEvent, call: "consult", callerFlow: "a2", calleeFlow: "b", date: "2026-11-27 08:00:08"),
            pbx.event(.callHungUpEvent, call: "final", callerFlow: "c", calleeFlow: "b"),
            // Same call id, other flows: a distinct hangup, never dropped on the call id alone.
            pbx.event(.callHungUpEvent, call: "consult", callerFlow: "a3", calleeFlow: "b"),
        ]
        let outcome = try await journal.commit(events)
        #expect(outcome.committed.map(\.event.data.callId) == ["first", "consult", "final", "consult"])
        #expect(outcome.duplicates.count == 1)
        #expect(try journal.count() == 4)
    }

    @Test("other types are dropped only when the same notification repeats")
    func otherTypes() async throws {
        let journal = try open()
        let connected = pbx.event(.callConnectedEvent, call: "x")
        let outcome = try await journal.commit([
            connected, connected, pbx.event(.callConnectedEvent, call: "x", date: "2026-11-27 08:00:06"),
        ])
        #expect(outcome.committed.count == 2)
        #expect(outcome.duplicates == [connected])
    }

    @Test("a restart inside the window forwards no duplicate; after the window the event counts as new")
    func persistentWindow() async throws {
        let start = Date()
        let hangup = pbx.event(.callHungUpEvent, call: "x")
        do {
            let journal = try open(.init(dedupeWindow: .seconds(600)))
            #expect(try await journal.commit([hangup], now: start).committed.count == 1)
        }
        let reopened = try open(.init(dedupeWindow: .seconds(600)))
        #expect(try await reopened.commit([hangup], now: start.addingTimeInterval(599)).duplicates.count == 1)
        #expect(try await reopened.commit([hangup], now: start.addingTimeInterval(601)).committed.count == 1)
    }

    @Test("an attended transfer is named once: who handed the customer to whom")
    func transferCorrelation() async throws {
        let journal = try open()
        let calls = [
            pbx.event(.callConnectedEvent, call: "first", callerFlow: "c", calleeFlow: "a", callee: "anna"),
            pbx.event(.callConnectedEvent, call: "consult", callerFlow: "a2", calleeFlow: "b", caller: "anna", callee: "bert"),
            pbx.event(.callHungUpEvent, call: "first", callerFlow: "c", calleeFlow: "a"),
        ]
        let first = try await journal.commit(calls)
        #expect(first.committed.count == 3, "no transfer before the customer is connected elsewhere")
        let final = pbx.event(.callConnectedEvent, call: "final", callerFlow: "c", calleeFlow: "b", callee: "bert")
        let second = try await journal.commit([final])
        #expect(second.committed.map(\.event.type) == [.connected, .transferred])
        let transfer = try #require(second.committed.last?.event.data.transfer)
        #expect(transfer.party.number == "+31201234567")
        #expect(transfer.from.user == "anna")
        #expect(transfer.to.user == "bert")
        #expect(transfer.previousCallId == "first")
        // The PBX repeats the connection (a reconnect replay): neither it nor the transfer come again.
        let again = try await journal.commit([final])
        #expect(again.committed.isEmpty)
    }

    @Test("a transfer is named across a restart, and not when the earlier connection is outside the window")
    func transferAcrossRestart() async throws {
        let start = Date()
        let options = JournalOptions(transferWindow: .seconds(3600))
        do {
            let journal = try open(options)
            _ = try await journal.commit(
                [pbx.event(.callConnectedEvent, call: "first", callerFlow: "c", calleeFlow: "a", callee: "anna")],
                now: start)
        }
        let final = pbx.event(.callConnectedEvent, call: "final", callerFlow: "c", calleeFlow: "b", callee: "bert")
        let reopened = try open(options)
        #expect(reopened.transferFlowCount == 2, "both flows of the connection are read back")
        let outcome = try await reopened.commit([final], now: start.addingTimeInterval(60))
        #expect(outcome.committed.map(\.event.type) == [.connected, .transferred])
        #expect(outcome.committed.last?.event.data.transfer?.from.user == "anna")

        let late = pbx.event(.callConnectedEvent, call: "late", callerFlow: "d", calleeFlow: "f", callee: "fay")
        _ = try await reopened.commit(
            [pbx.event(.callConnectedEvent, call: "early", callerFlow: "d", calleeFlow: "e", callee: "eve")], now: start)
        let after = try await reopened.commit([late], now: start.addingTimeInterval(3601))
        #expect(after.committed.map(\.event.type) == [.connected], "the earlier connection is outside the window")
    }

    @Test("a transfer is named once, even when the new call's connection is replayed after the dedupe window")
    func transferNamedOnce() async throws {
        let journal = try open(.init(dedupeWindow: .seconds(60)))
        let start = Date()
        let final = pbx.event(.callConnectedEvent, call: "final", callerFlow: "c", calleeFlow: "b", callee: "bert")
        let first = try await journal.commit(
            [pbx.event(.callConnectedEvent, call: "first", callerFlow: "c", calleeFlow: "a", callee: "anna"), final],
            now: start)
        #expect(first.committed.map(\.event.type) == [.connected, .connected, .transferred])
        // Two minutes later the connection is no duplicate any more, but the transfer was named.
        let replay = try await journal.commit([final], now: start.addingTimeInterval(120))
        #expect(replay.committed.map(\.event.type) == [.connected])
    }

    @Test("events older than the retention are pruned; newer ones stay")
    func retention() async throws {
        let journal = try open(.init(retention: .seconds(3600)))
        let old = pbx.event(.newCallEvent, call: "old", received: Date().addingTimeInterval(-7200))
        let new = pbx.event(.newCallEvent, call: "new")
        _ = try await journal.commit([old, new])
        try await journal.prune()
        let left = try journal.entries(after: 0)
        #expect(left.count == 1)
        #expect(left.first?.json.contains(#""call_id":"new""#) == true)
    }

    @Test("the dedupe marks are bounded in age and in number")
    func boundedMarks() async throws {
        let journal = try open(.init(dedupeWindow: .seconds(60), dedupeMaxEntries: 1000))
        let now = Date()
        _ = try await journal.commit((0..<1500).map { pbx.event(.newCallEvent, call: "c\($0)") }, now: now)
        try await journal.prune(now: now)
        #expect(journal.dedupeMarkCount == 1000)
        // The newest 1,000 are the ones kept: the oldest is forwarded again, the newest is not.
        let again = try await journal.commit(
            [pbx.event(.newCallEvent, call: "c0"), pbx.event(.newCallEvent, call: "c1499")], now: now)
        #expect(again.committed.map(\.event.data.callId) == ["c0"])
        try await journal.prune(now: now.addingTimeInterval(61))
        #expect(journal.dedupeMarkCount == 0)
        #expect(
            try open(.init(dedupeWindow: .seconds(60), dedupeMaxEntries: 1000)).dedupeMarkCount == 1000,
            "read back at start from the newest events, bounded")
    }

    @Test("a file that is not a database is refused with its path, and left as it was")
    func unreadable() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(Journal.fileName)
        let garbage = Data(repeating: 0x41, count: 8192)
        try garbage.write(to: file)
        do {
            _ = try open()
            Issue.record("opened a file that is not a database")
        } catch {
            guard error.code == .unreadable else {
                Issue.record("expected unreadable, got \(error)")
                return
            }
            #expect(error.path == file.path)
            #expect(error.description.contains("will not replace it"))
        }
        #expect(try Data(contentsOf: file) == garbage)
    }

    @Test("a new journal has 4 KiB pages; one made with 16 KiB pages keeps them, its events and its dedupe marks")
    func pageSize() async throws {
        let hangup = pbx.event(.callHungUpEvent, call: "x")
        #expect(try open().pageSize() == 4096)
        try FileManager.default.removeItem(at: directory)
        // A journal made with 16 KiB pages, as earlier releases made them (WAL mode),
        // then one event.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            var configuration = Configuration()
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA page_size = 16384") }
            let pool = try DatabasePool(
                path: directory.appendingPathComponent(Journal.fileName).path, configuration: configuration)
            try JournalSchema.migrator().migrate(pool)
        }
        #expect(try await open().commit([hangup]).committed.count == 1)
        let reopened = try open()
        #expect(try reopened.pageSize() == 16384)
        #expect(try await reopened.commit([hangup]).duplicates.count == 1)
        #expect(try await reopened.commit([pbx.event(.callHungUpEvent, call: "y")]).committed.count == 1)
        #expect(try reopened.count() == 2)
    }

    @Test("a commit that fails leaves no dedupe mark and no connection: its retry stores every event and names the transfer")
    func failedCommitLeavesNoMark() async throws {
        let journal = try open()
        _ = try await journal.commit([
            pbx.event(.callConnectedEvent, call: "first", callerFlow: "c", calleeFlow: "a", callee: "anna")
        ])
        // The customer's flow connected to someone else: a transfer, if the commit goes through.
        let first = pbx.event(.callConnectedEvent, call: "final", callerFlow: "c", calleeFlow: "b", callee: "bert")
        let refused = pbx.event(.newCallEvent, call: "refused")
        // Another connection makes the database refuse one of the batch's rows, as a full disk would.
        let other = try DatabaseQueue(path: journal.path)
        try await other.write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.call_id = 'refused'
                    BEGIN SELECT RAISE(ABORT, 'refused'); END
                    """)
        }
        await #expect(throws: JournalError.self) { try await journal.commit([first, refused]) }
        #expect(try journal.count() == 1)
        try await other.write { db in try db.execute(sql: "DROP TRIGGER refuse") }
        let retry = try await journal.commit([first, refused])
        #expect(retry.committed.map(\.event.type) == [.connected, .transferred, .started])
        #expect(retry.committed[1].event.data.transfer?.from.user == "anna")
        #expect(retry.duplicates.isEmpty)
        #expect(try await journal.commit([first]).duplicates == [first])
    }

    @Test("a commit of many events stores each under its own sequence, with its own JSON, in order")
    func manyRowsPerCommit() async throws {
        let journal = try open()
        _ = try await journal.commit((0..<3).map { pbx.event(.newCallEvent, call: "before-\($0)") })
        let count = 37
        let events = (0..<count).map { pbx.event(.newCallEvent, call: "call-\($0)") }
        let committed = try await journal.commit(events).committed
        #expect(committed.map(\.sequence) == Array(4...Int64(3 + count)))
        #expect(committed.map(\.event.id) == events.map(\.id))
        let stored = try journal.entries(after: 3, limit: count + 1)
        #expect(stored.map(\.sequence) == committed.map(\.sequence))
        #expect(stored.map(\.json) == committed.map(\.json))
        #expect(stored.map { try? CallEvent.decode(json: $0.json).data.callId } == events.map(\.data.callId))
    }

    @Test("a journal from before v6 keeps its events and deliveries, and numbers new events after the highest it handed out")
    func sequencesFromAnOlderJournal() async throws {
        let events = (0..<3).map { pbx.event(.newCallEvent, call: "old-\($0)") }
        // As callrelay made it before v6: `AUTOINCREMENT` numbered the rows, and its counter stays at 3
        // after the newest row is gone.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let pool = try DatabasePool(path: directory.appendingPathComponent(Journal.fileName).path)
            try JournalSchema.migrator().migrate(pool, upTo: "v5: transfer correlation in memory")
            try await pool.write { db in
                for event in events {
                    try db.execute(
                        sql: "INSERT INTO events (id, tenant, type, call_id, received_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [
                            event.id, event.data.tenant, event.type.rawValue, event.data.callId,
                            event.data.receivedAt.timeIntervalSince1970, event.json(),
                        ])
                }
                try db.execute(sql: "DELETE FROM events WHERE seq = 3")
                try db.execute(
                    sql: "INSERT INTO deliveries (endpoint, seq, call_key, next_at, updated_at) VALUES ('crm', 2, 'old-1', 0, 0)")
            }
        }
        let journal = try open()
        #expect(try journal.entries(after: 0).map(\.sequence) == [1, 2])
        #expect(try journal.entries(after: 0).map(\.json) == events.prefix(2).map { $0.json() })
        let (deliveries, table) = try await DatabaseQueue(path: journal.path).read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM deliveries WHERE seq = 2 AND state = 'pending'"),
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'events'")
            )
        }
        #expect(deliveries == 1)
        #expect(table?.contains("AUTOINCREMENT") == false)
        // The repeats of the two kept events are still known as such.
        #expect(try await journal.commit(Array(events.prefix(2))).duplicates.count == 2)
        let next = try await journal.commit([pbx.event(.newCallEvent, call: "new")]).committed
        #expect(next.map(\.sequence) == [4])
    }

    @Test("upgrading an older journal is announced before it starts and when it is done; a new or current one says nothing")
    func upgradeIsAnnounced() async throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        do {
            let pool = try DatabasePool(path: directory.appendingPathComponent(Journal.fileName).path)
            try JournalSchema.migrator().migrate(pool, upTo: "v5: transfer correlation in memory")
            try await pool.write { db in
                for call in ["a", "b", "c"] {
                    try db.execute(
                        sql:
                            "INSERT INTO events (id, tenant, type, call_id, received_at, body) VALUES (?, 'acme', 'call.started', ?, 0, '{}')",
                        arguments: [call, call])
                }
            }
        }
        let (logger, records) = RecordingLogHandler.logger()
        _ = try Journal(directory: directory, logger: logger)
        let notices = records.all.filter { $0.level == .notice }
        #expect(notices.map(\.message).map { $0.hasPrefix("upgrading the journal") } == [true, false])
        #expect(notices.last?.message == "upgraded the journal")
        #expect(notices.first?.metadata["upgrades"] == "v6: sequences counted by the journal; v7: dead letters hold their call")
        #expect(notices.first?.metadata["events_at_most"] == "3")
        #expect(notices.last?.metadata["seconds"] != nil)

        // Opened again, and a journal made new: nothing to announce.
        let (quiet, none) = RecordingLogHandler.logger()
        _ = try Journal(directory: directory, logger: quiet)
        _ = try Journal(directory: directory.appendingPathComponent("new"), logger: quiet)
        #expect(none.all.isEmpty)

        // Upgraded by a newer callrelay (a release rolled back): used, with a warning that names the upgrade.
        try await DatabaseQueue(path: directory.appendingPathComponent(Journal.fileName).path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from a later release')")
        }
        let (warned, warnings) = RecordingLogHandler.logger()
        let rolledBack = try Journal(directory: directory, logger: warned)
        #expect(warnings.all.map(\.level) == [.warning])
        #expect(warnings.all.first?.metadata["unknown_upgrades"] == "v99: from a later release")
        #expect(try await rolledBack.commit([pbx.event(.newCallEvent, call: "d")]).committed.map(\.sequence) == [4])
    }

    @Test("a new journal, its log and its directory give others no access")
    func noAccessForOthers() async throws {
        let journal = try open()
        #expect(try await journal.commit([pbx.event(.newCallEvent, call: "a")]).committed.count == 1)
        for path in [directory.path, journal.path, journal.path + "-wal", journal.path + "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode.map { $0 & 0o007 } == 0, "\(path): \(String(mode ?? 0, radix: 8))")
        }
    }

    @Test("pruning every event never lets a sequence be handed out again, also after a restart")
    func sequencesAfterPruningEverything() async throws {
        let options = JournalOptions(retention: .seconds(3600))
        let old = Date().addingTimeInterval(-7200)
        do {
            let journal = try open(options)
            let committed = try await journal.commit(
                (0..<5).map { pbx.event(.newCallEvent, call: "old-\($0)", received: old) }
            ).committed
            #expect(committed.last?.sequence == 5)
            try await journal.prune()
            #expect(try journal.count() == 0)
            #expect(try await journal.commit([pbx.event(.newCallEvent, call: "a")]).committed.map(\.sequence) == [6])
        }
        // Two hours on, the last event is past the retention too; a restart finds an empty table.
        try await open(options).prune(now: Date().addingTimeInterval(7200))
        let reopened = try open(options)
        #expect(try reopened.count() == 0)
        #expect(try await reopened.commit([pbx.event(.newCallEvent, call: "b")]).committed.map(\.sequence) == [7])
    }

    @Test("a reader does not create a journal where there is none")
    func missing() {
        #expect(throws: JournalError.self) { try Journal(directory: directory, create: false) }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent(Journal.fileName).path))
    }
}
