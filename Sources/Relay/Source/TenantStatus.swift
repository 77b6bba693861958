/// What a tenant's source has done so far, for status output and tests.
public struct TenantStatus: Sendable, Equatable {
    public enum State: String, Sendable { case starting, connecting, subscribed, waiting, stopped }
    public var state: State = .starting
    public var events = 0
    public var unknownNotifications = 0
    public var malformed = 0
    public var connections = 0
    public var drops = 0
    public var gaps = 0
    public var lastError: String?
}
