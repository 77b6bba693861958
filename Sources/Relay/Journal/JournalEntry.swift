import CallEvents

/// One committed event: its place in the journal and its JSON exactly as stored.
public struct JournalEntry: Sendable, Equatable {
    /// Increases with every commit; orders the log stream, `tail` and every delivery.
    public var sequence: Int64
    /// The event as stored, byte for byte what the log stream and the webhooks carry.
    public var json: String
    public var event: CallEvent

    public init(sequence: Int64, json: String, event: CallEvent) {
        self.sequence = sequence
        self.json = json
        self.event = event
    }
}

/// What one commit did with the events it was given.
public struct CommitOutcome: Sendable {
    /// Stored, in order; transfers that callrelay correlated appear right after the connection that
    /// revealed them.
    public var committed: [JournalEntry] = []
    /// Dropped as repeats of events already journaled within the dedupe window.
    public var duplicates: [CallEvent] = []
}

/// Which journaled events to read.
public struct JournalFilter: Sendable {
    public var tenant: String?
    public var types: [String]
    public var callId: String?
    /// Only events received at or after this moment.
    public var since: Double?

    public init(tenant: String? = nil, types: [String] = [], callId: String? = nil, since: Double? = nil) {
        self.tenant = tenant
        self.types = types
        self.callId = callId
        self.since = since
    }
}
