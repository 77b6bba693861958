import CallEvents

/// What one commit did with the events it was given.
public struct CommitOutcome: Sendable {
    /// Stored, in order; transfers that callrelay correlated appear right after the connection that
    /// revealed them.
    public var committed: [JournalEntry] = []
    /// Dropped as repeats of events already journaled within the dedupe window.
    public var duplicates: [CallEvent] = []
}
