import Foundation

/// A delivery waiting for its attempt.
public struct PendingDelivery: Sendable, Equatable {
    public var sequence: Int64
    /// The call the event belongs to: one call's deliveries go one after another.
    public var callKey: String
    public var attempts: Int
    public var json: String
    public var eventId: String
    /// When it is (or was) due.
    public var nextAt: Date
}
