import CallEvents
import Foundation

/// What the pipeline needs of the journal: batches committed in order, each event with its dedupe
/// mark and its deliveries, and handed to the sinks once durable. ``Journal`` (SQLite) is the
/// implementation; a store shared by several instances would be another.
public protocol EventJournal: Sendable {
    var options: JournalOptions { get }
    /// Where the journal is, for errors.
    var path: String { get }
    /// Commits `events` and returns once the transaction is committed, before it is durable;
    /// `afterDurable` gets the committed entries once they are, in commit order.
    func commitWithoutWaiting(
        _ events: [CallEvent], afterDurable: @escaping @Sendable ([JournalEntry]) -> Void
    ) async throws(JournalError) -> CommitOutcome
    /// Returns once every commit so far is durable and handed on.
    func waitUntilDurable() async throws(JournalError)
    /// Forgets what is past its window or retention.
    func prune(now: Date) async throws(JournalError)
}

extension Journal: EventJournal {
    public func commitWithoutWaiting(
        _ events: [CallEvent], afterDurable: @escaping @Sendable ([JournalEntry]) -> Void
    ) async throws(JournalError) -> CommitOutcome {
        try await commitPipelined(events, afterCommit: afterDurable).outcome
    }
}
