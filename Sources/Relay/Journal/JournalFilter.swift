import CallEvents

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
