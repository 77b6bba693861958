import AsyncHTTPClient
import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers
import TestSupport
import Testing
import Xelion

@testable import Relay

/// The journal's side of webhook delivery: which delivery goes next, what a crash leaves, when a
/// retry is due.
@Suite("Journal: the delivery queue")
struct JournalDeliveriesTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deliveries-\(UUID().uuidString)")
    let pbx = Notifications()
    let route = DeliveryRoute(tenant: "acme", url: "https://crm.example.com/hooks", types: [])
    var endpoint: String { route.endpoint }

    func open() throws -> Journal {
        try Journal(directory: directory, routes: ["acme": [route]])
    }

    /// Two calls of three events each, interleaved as the PBX sends them.
    func commitTwoCalls(_ journal: Journal) async throws {
        _ = try await journal.commit([
            pbx.event(.newCallEvent, call: "one", callerFlow: "c1", calleeFlow: "a1"),
            pbx.event(.newCallEvent, call: "two", callerFlow: "c2", calleeFlow: "a2"),
            pbx.event(.callConnectedEvent, call: "one", callerFlow: "c1", calleeFlow: "a1"),
            pbx.event(.callConnectedEvent, call: "two", callerFlow: "c2", calleeFlow: "a2"),
            pbx.event(.callHungUpEvent, call: "one", callerFlow: "c1", calleeFlow: "a1"),
            pbx.event(.callHungUpEvent, call: "two", callerFlow: "c2", calleeFlow: "a2"),
        ])
    }

    @Test("one delivery per call is due, the oldest first; a call being delivered is left out")
    func headsOfCalls() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        let due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.callKey) == ["one", "two"])
        #expect(due.map(\.sequence) == [1, 2])
        let others = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: ["one"])
        #expect(others.map(\.callKey) == ["two"])
        #expect(try await journal.dueDeliveries(endpoint: "acme https://other.example.com", limit: 10, busyCalls: []).isEmpty)
    }

    @Test("a call's next event is found before the earlier success is written; written successes are not due again")
    func chain() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        var sequences: [Int64] = []
        var current = try #require(try await journal.dueDeliveries(endpoint: endpoint, limit: 1, busyCalls: []).first)
        var ticket: DeliveredMarkTicket?
        while true {
            sequences.append(current.sequence)
            ticket = journal.recordDelivered(endpoint: endpoint, sequence: current.sequence, attempts: 1) { error in
                Issue.record("\(error)")
            }
            guard let next = try await journal.nextDelivery(endpoint: endpoint, callKey: "one", after: current.sequence)
            else { break }
            current = next
        }
        #expect(sequences == [1, 3, 5], "call one's events in order")
        await journal.waitUntilRecorded(try #require(ticket))
        let due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [2], "call one done; call two's first event next")
        #expect(try journal.backlog().first?.delivered == 3)
    }

    @Test("a chain reads its call's next events a batch at a time, in order, and never past one waiting for its retry")
    func batches() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        let all = try await journal.nextDeliveries(endpoint: endpoint, callKey: "one", after: 0, now: Date(), limit: 16)
        #expect(all.map(\.sequence) == [1, 3, 5])
        #expect(
            try await journal.nextDeliveries(endpoint: endpoint, callKey: "one", after: 1, now: Date(), limit: 1).map(
                \.sequence) == [3])
        try await journal.markFailed(
            endpoint: endpoint, sequence: 3, attempts: 1, error: "HTTP 500", retryAt: Date().addingTimeInterval(300))
        let held = try await journal.nextDeliveries(endpoint: endpoint, callKey: "one", after: 0, now: Date(), limit: 16)
        #expect(held.map(\.sequence) == [1], "event 5 waits behind event 3's retry")
        #expect(try await journal.nextDeliveries(endpoint: endpoint, callKey: "one", after: 1, now: Date(), limit: 16).isEmpty)
    }

    @Test("a failed event holds its call's later events back until its retry; other calls go on")
    func failureHoldsTheCall() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        let retryAt = Date().addingTimeInterval(300)
        try await journal.markFailed(endpoint: endpoint, sequence: 1, attempts: 1, error: "HTTP 500", retryAt: retryAt)
        let due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [2], "call one waits for its first event")
        // Due deliveries of busy calls do not count: the next wake-up is the retry.
        let next = try #require(try await journal.nextDue(endpoint: endpoint))
        #expect(abs(next.timeIntervalSince(retryAt)) < 0.01)
        #expect(try journal.backlog().first?.lastError == "HTTP 500")
    }

    @Test(
        "pruning keeps an old event while any endpoint still owes it (pending or dead), and takes its deliveries along once it goes"
    )
    func pruneKeepsOwedEvents() async throws {
        let other = DeliveryRoute(tenant: "acme", url: "https://other.example.com/hooks", types: [])
        let journal = try Journal(
            directory: directory, options: .init(retention: .seconds(3600)), routes: ["acme": [route, other]])
        let old = Date().addingTimeInterval(-7200)
        let events = ["both", "owed", "dead", "new"].map {
            pbx.event(.newCallEvent, call: $0, received: $0 == "new" ? Date() : old)
        }
        let sequences = try await journal.commit(events).committed.map(\.sequence)
        func delivered(_ endpoint: String, _ index: Int) async {
            await journal.waitUntilRecorded(
                journal.recordDelivered(endpoint: endpoint, sequence: sequences[index], attempts: 1) { error in
                    Issue.record("\(error)")
                })
        }
        await delivered(endpoint, 0)
        await delivered(other.endpoint, 0)
        await delivered(endpoint, 1)
        try await journal.markFailed(endpoint: endpoint, sequence: sequences[2], attempts: 8, error: "500", retryAt: nil)
        await delivered(other.endpoint, 2)
        func rows() throws -> [Int64: Int] {
            try journal.read { db in
                try Dictionary(
                    Row.fetchAll(db, sql: "SELECT seq, count(*) FROM deliveries GROUP BY seq").map {
                        ($0[0] as Int64, $0[1] as Int)
                    }, uniquingKeysWith: +)
            }
        }

        try await journal.prune()
        #expect(try journal.entries(after: 0).map(\.sequence) == Array(sequences[1...]), "owed, dead and new are kept")
        #expect(try rows() == [sequences[1]: 2, sequences[2]: 2, sequences[3]: 2], "the first event's deliveries went with it")

        // Delivered at last: the next prune takes both events and all their deliveries.
        await delivered(other.endpoint, 1)
        await delivered(endpoint, 2)
        try await journal.prune()
        #expect(try journal.entries(after: 0).map(\.sequence) == [sequences[3]])
        #expect(try rows() == [sequences[3]: 2])
    }

    @Test("a recovery is a notice after an outage or when retries waited, and only debug after a lone failed request")
    func recoveryLogLevel() {
        #expect(EndpointStateMachine.recoveryLevel(down: .milliseconds(2), movedRetries: 0) == .debug)
        #expect(EndpointStateMachine.recoveryLevel(down: .milliseconds(2), movedRetries: 1) == .notice)
        #expect(EndpointStateMachine.recoveryLevel(down: .seconds(15), movedRetries: 0) == .notice)
    }

    @Test("when the endpoint answers again, the retries waiting for later are due at once")
    func expedite() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        try await journal.markFailed(
            endpoint: endpoint, sequence: 1, attempts: 3, error: "HTTP 503", retryAt: Date().addingTimeInterval(1800))
        try await journal.markFailed(
            endpoint: endpoint, sequence: 2, attempts: 2, error: "HTTP 503", retryAt: Date().addingTimeInterval(300))
        #expect(try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: []).isEmpty)
        #expect(try await journal.expediteRetries(endpoint: endpoint) == 2)
        let due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [1, 2])
        #expect(due.map(\.attempts) == [3, 2], "the attempts made stay counted")
        #expect(try await journal.nextDue(endpoint: endpoint) == nil)
    }

    func commitCalls(_ journal: Journal, batches: Int) async throws {
        for batch in 0..<batches {
            _ = try await journal.commit(
                (0..<100).map { pbx.event(.newCallEvent, call: "call-\(batch)-\($0)", callerFlow: "c\(batch)-\($0)") })
        }
    }

    func walSize(_ journal: Journal) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: journal.path + "-wal")[.size] as? Int ?? 0
    }

    @Test("commits leave the write-ahead log to the checkpointer, which empties it into the database")
    func checkpoints() async throws {
        // No background checkpoint during the test: what the commits do on their own shows.
        let journal = try Journal(
            directory: directory, options: JournalOptions(checkpointInterval: .seconds(3600)), routes: ["acme": [route]])
        try await commitCalls(journal, batches: 60)
        // 6,000 events with their deliveries take some 2,800 pages. SQLite's own checkpoint would have
        // started the log over at every 1,000.
        #expect(try walSize(journal) > 2 * 1000 * 4096, "the commits did not checkpoint on their own")
        let checkpointer = try #require(journal.checkpointer)
        #expect(try await checkpointer.checkpoint() == 0, "every frame is in the database file")
        #expect(try journal.count() == 6000)
    }

    @Test("the background checkpoints keep the write-ahead log small while events are committed")
    func backgroundCheckpoints() async throws {
        let journal = try Journal(
            directory: directory, options: JournalOptions(checkpointInterval: .zero), routes: ["acme": [route]])
        try await commitCalls(journal, batches: 60)
        #expect(try walSize(journal) < 2 * 1000 * 4096)
        #expect(try journal.count() == 6000)
    }

    @Test("the write-ahead log starts over while commits never pause")
    func logStartsOverUnderContinuousCommits() async throws {
        // Four committers keep the writer busy without a gap, so a background checkpoint never finds
        // the log fully copied; without the writer catching up, the log grows by every commit.
        let journal = try Journal(
            directory: directory, options: JournalOptions(durability: .normal, checkpointInterval: .zero),
            routes: ["acme": [route]])
        let largest = NIOLockedValueBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for committer in 0..<4 {
                group.addTask {
                    for index in 0..<250 {
                        _ = try await journal.commit([
                            pbx.event(.newCallEvent, call: "call-\(committer)-\(index)", callerFlow: "c\(committer)-\(index)")
                        ])
                        let size = try walSize(journal)
                        largest.withLockedValue { $0 = max($0, size) }
                    }
                }
            }
            try await group.waitForAll()
        }
        // 1,000 commits write some 3,000 frames (12 MB) in all; a log that starts over stays a
        // small part of that.
        #expect(largest.withLockedValue { $0 } < 4 << 20)
        #expect(try journal.count() == 1000)
    }

    @Test("a recorded success is on record once the wait returns, with many calls and commits at once")
    func successesOnRecordAfterTheWait() async throws {
        let journal = try open()
        // 8 calls of 20 events, committed in small batches while the calls are being delivered,
        // so that the writer is busy with commits, recorded successes and waits all at once.
        let calls = 8, eventsPerCall = 20
        let committing = NIOLockedValueBox(true)
        let commits = Task {
            defer { committing.withLockedValue { $0 = false } }
            for index in 0..<eventsPerCall {
                _ = try await journal.commit(
                    (0..<calls).map { call in
                        pbx.event(
                            .callHungUpEvent, call: "call-\(call)", callerFlow: "c\(call)-\(index)",
                            calleeFlow: "a\(call)-\(index)")
                    })
            }
        }
        let endpoint = self.endpoint
        try await withThrowingTaskGroup(of: Void.self) { group in
            for call in 0..<calls {
                group.addTask {
                    var delivered = 0
                    var last: Int64 = 0
                    while delivered < eventsPerCall {
                        let stillCommitting = committing.withLockedValue { $0 }
                        guard
                            let next = try await journal.nextDeliveries(
                                endpoint: endpoint, callKey: "call-\(call)", after: last, now: .distantFuture, limit: 1
                            ).first
                        else {
                            // All committed and still not found: the test fails rather than spin.
                            guard stillCommitting else {
                                Issue.record("call-\(call): only \(delivered) of \(eventsPerCall) events were pending")
                                return
                            }
                            try await Task.sleep(for: .milliseconds(1))
                            continue
                        }
                        let ticket = journal.recordDelivered(endpoint: endpoint, sequence: next.sequence, attempts: 1) { error in
                            Issue.record("\(error)")
                        }
                        await journal.waitUntilRecorded(ticket)
                        // The call's head is now a later event, never the one just recorded.
                        let heads = try await journal.dueDeliveries(
                            endpoint: endpoint, now: .distantFuture, limit: calls, busyCalls: [])
                        #expect(!heads.contains { $0.sequence == next.sequence }, "event \(next.sequence) still pending")
                        last = next.sequence
                        delivered += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        try await commits.value
        #expect(try journal.backlog().first?.delivered == calls * eventsPerCall)
    }

    @Test("a deliverer whose events wait (endpoint down, dead letters) keeps no unbounded record of their calls")
    func trackedCallsStayBounded() async throws {
        let journal = try open()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let secret = "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()
        let made = Result {
            try WebhookDeliverer(
                tenant: "acme", endpoint: .init(url: "https://crm.example.com/hooks", secrets: [secret]),
                journal: journal, http: http, logger: Logger(label: "test"))
        }
        try await http.shutdown()
        let deliverer = try made.get()
        // Never run: nothing is delivered, so no call is ever done. One event, its call renamed:
        // 25,000 events made from scratch would keep a test thread busy for seconds.
        let template = pbx.event(.newCallEvent, call: "template")
        try await offThread {
            for batch in 0..<25 {
                deliverer.write(
                    (0..<1_000).map { index in
                        var event = template
                        event.data.callId = "call-\(batch)-\(index)"
                        return JournalEntry(sequence: Int64(batch * 1_000 + index + 1), json: "{}", event: event)
                    })
            }
        }
        #expect(deliverer.trackedCalls > 0)
        #expect(deliverer.trackedCalls <= WebhookDeliverer.trackedCallsLimit + 1_000)
    }

    @Test("a dead letter holds its call's later deliveries until it is retried, which sends it first, or dropped")
    func deadHoldsItsCall() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        try await journal.markFailed(endpoint: endpoint, sequence: 1, attempts: 8, error: "HTTP 500", retryAt: nil)
        var due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [2], "call one waits behind its dead letter; call two goes on")
        #expect(try await journal.hasPending(endpoint: endpoint, callKey: "one"), "never delivered from memory either")
        #expect(try await journal.pendingCalls(endpoint: endpoint, limit: 10).contains("one"))
        #expect(try await journal.retryDead(endpoint: endpoint) == 1)
        due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [1, 2], "the revived dead letter first, ahead of its call's later events")

        try await journal.markFailed(endpoint: endpoint, sequence: 1, attempts: 8, error: "HTTP 500", retryAt: nil)
        #expect(try await journal.dropUndelivered(endpoint: endpoint, deadOnly: true) == 1)
        due = try await journal.dueDeliveries(endpoint: endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [2, 3], "dropped on purpose: the call's next event goes")
    }

    @Test("rows of an endpoint no longer configured are found with counts, moved to a configured one, or dropped")
    func unconfiguredEndpoints() async throws {
        let journal = try open()
        try await commitTwoCalls(journal)
        try await journal.markFailed(endpoint: endpoint, sequence: 1, attempts: 8, error: "HTTP 500", retryAt: nil)
        let renamed = DeliveryRoute(tenant: "acme", url: "https://crm.example.com/hooks/v2", types: [])
        let orphans = try journal.unconfiguredBacklog(configured: [renamed.endpoint])
        #expect(orphans.map(\.endpoint) == [endpoint])
        #expect(orphans.first?.pending == 5 && orphans.first?.dead == 1)
        #expect(try journal.unconfiguredBacklog(configured: [endpoint]).isEmpty)

        let (logger, records) = RecordingLogHandler.logger()
        RelayDaemon.warnAboutUnconfiguredEndpoints(journal, routes: ["acme": [renamed]], logger: logger)
        let warning = try #require(records.all.first { $0.level == .warning })
        #expect(warning.metadata["endpoint"] == "\(endpoint)" && warning.metadata["pending"] == "5")

        #expect(try await journal.moveUndelivered(from: endpoint, to: renamed.endpoint) == 6)
        #expect(try journal.unconfiguredBacklog(configured: [renamed.endpoint]).isEmpty)
        let due = try await journal.dueDeliveries(endpoint: renamed.endpoint, limit: 10, busyCalls: [])
        #expect(due.map(\.sequence) == [2], "moved with their states: call one still behind its dead letter")
        #expect(try await journal.dropUndelivered(endpoint: renamed.endpoint, deadOnly: false) == 6)
        #expect(try journal.backlog().first { $0.endpoint == renamed.endpoint } == nil)
    }
}
