import Foundation

/// One endpoint's state, for `callrelay deliveries`.
public struct EndpointBacklog: Sendable, Equatable {
    public var endpoint: String
    public var pending: Int
    public var delivered: Int
    public var dead: Int
    public var oldestPending: Double?
    public var lastError: String?
}
