import CallEvents

/// Where committed events go: called on the journal's sync thread, in commit order, never with an
/// event that is not yet durable.
public protocol EventSink: Sendable {
    func write(_ entries: [JournalEntry])
    /// The daemon is stopping and nothing more will be written: finish what is in hand.
    func finish() async
}

extension EventSink {
    public func finish() async {}
}
