import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers

extension Journal {
    /// Journals `events` in one transaction, dropping duplicates and adding correlated transfers, and
    /// returns once they are durable; `afterCommit` gets the committed entries first, on the
    /// journal's sync thread, in commit order.
    public func commit(
        _ events: [CallEvent],
        now: Date = Date(),
        afterCommit: @escaping @Sendable ([JournalEntry]) -> Void = { _ in }
    ) async throws(JournalError) -> CommitOutcome {
        let (outcome, ticket) = try await commitPipelined(events, now: now, afterCommit: afterCommit)
        try await syncer?.wait(for: ticket)
        return outcome
    }

    /// ``commit(_:now:afterCommit:)`` that returns once the transaction is committed, before it is
    /// durable, so that the writer can commit the next batch while the disk syncs this one.
    /// `afterCommit` still runs only once the events are durable. Waits while
    /// ``unsyncedCommits`` commits are not yet durable.
    func commitPipelined(
        _ events: [CallEvent],
        now: Date = Date(),
        afterCommit: @escaping @Sendable ([JournalEntry]) -> Void
    ) async throws(JournalError) -> (outcome: CommitOutcome, ticket: WALSyncer.Ticket) {
        guard let syncer else { throw .writeFailed(path: path, reason: "the journal was opened for reading") }
        // After a failed sync nothing more is committed: the disk's state is unknown.
        if let failure = syncer.failure { throw failure }
        try await syncer.waitForRoom(limit: Self.unsyncedCommits)
        let (deduplication, transfers) = (self.deduplication, self.transfers)
        let routes = self.routes
        let checkpointer = self.checkpointer
        do {
            return try await pool.writeWithoutTransaction { db in
                // The syncer syncs; set on every commit, as delivery outcomes and pruning set their own.
                try Self.setSynchronous(JournalOptions.Durability.normal.pragma, db)
                var outcome = CommitOutcome()
                var state = CommitState(now: now.timeIntervalSince1970, lastSequence: sequences.withLockedValue { $0 })
                do {
                    try db.inTransaction(.immediate) {
                        outcome = try Self.store(
                            events, deduplication: deduplication, transfers: transfers, state: &state, routes: routes, db: db)
                        return .commit
                    }
                } catch {
                    deduplication.rollBack(state.marks, now: state.now)
                    transfers.rollBack(state.connections, now: state.now)
                    throw error
                }
                sequences.withLockedValue { $0 = state.lastSequence }
                // The batch's marks and connections are in; what they pushed out of the window or
                // beyond the limits goes.
                deduplication.prune(now: state.now)
                transfers.prune(now: state.now)
                let committed = outcome.committed
                let ticket = syncer.committed(upTo: committed.last?.sequence ?? 0) { afterCommit(committed) }
                checkpointer?.written(on: db)
                return (outcome, ticket)
            }
        } catch {
            throw JournalError.writing(error, path: path)
        }
    }

    /// Waits until every commit so far is durable and its `afterCommit` has run.
    public func waitUntilDurable() async throws(JournalError) {
        try await syncer?.waitForAll()
    }

    /// The newest sequence that is durable: what the webhook deliverer may read up to. Everything, in
    /// a journal opened for reading.
    var durableSequence: Int64 { syncer?.durableSequence ?? .max }

    /// What a commit's transaction changed in the in-memory state as it went, to be taken back if
    /// the transaction fails.
    struct CommitState {
        let now: Double
        /// The sequence of the last row inserted, or handed out before.
        var lastSequence: Int64
        var marks = Deduplication.Batch()
        var connections = TransferCorrelation.Batch()
    }

    static func store(
        _ events: [CallEvent], deduplication: Deduplication, transfers: TransferCorrelation, state: inout CommitState,
        routes: [String: [DeliveryRoute]], db: Database
    ) throws -> CommitOutcome {
        let now = state.now
        var outcome = CommitOutcome()
        let insert = try EventInsert(db)
        // Every committed event's JSON in one buffer, which the entries share once the loop is done.
        var lines = CallEventJSONLines(capacity: events.count * 1024)
        var stored: [(sequence: Int64, event: CallEvent, range: Range<Int>)] = []
        stored.reserveCapacity(events.count)
        // `lines` is a parameter rather than captured: a noncopyable value captured by a local function
        // could not be handed on to the entries afterwards.
        func append(_ event: CallEvent, to lines: inout CallEventJSONLines) throws -> Bool {
            if deduplication.isDuplicate(event.id, now: now, batch: &state.marks) {
                outcome.duplicates.append(event)
                return false
            }
            let sequence = state.lastSequence + 1
            let row = EventInsert.Row(
                sequence: sequence, id: event.id, tenant: event.data.tenant, type: event.type.rawValue,
                callId: event.data.callId, receivedAt: event.data.receivedAt.timeIntervalSince1970)
            let range = lines.append(event)
            try lines.withBytes(in: range) { body in try insert.execute(row, body: body) }
            state.lastSequence = sequence
            if let endpoints = routes[event.data.tenant] {
                try addDeliveries(sequence: sequence, event: event, routes: endpoints, now: now, db: db)
            }
            stored.append((sequence, event, range))
            return true
        }
        for event in events {
            guard try append(event, to: &lines) else { continue }
            if let transfer = transfers.transfer(after: event, now: now, batch: &state.connections) {
                _ = try append(transfer, to: &lines)
            }
        }
        let shared = JournalLines(lines)
        outcome.committed = stored.map { JournalEntry(sequence: $0.sequence, event: $0.event, lines: shared, range: $0.range) }
        return outcome
    }
}
