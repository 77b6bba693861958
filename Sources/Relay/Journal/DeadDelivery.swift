import Foundation

/// A delivery that ran out of attempts.
public struct DeadDelivery: Sendable, Equatable {
    public var endpoint: String
    public var sequence: Int64
    public var attempts: Int
    public var lastError: String?
    public var eventId: String
}
