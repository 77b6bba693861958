import Foundation

/// A message from a source that could not be read, kept as it came with the reason, so a person can
/// look at it and nothing is silently dropped.
public struct DeadLetter: Codable, Sendable, Equatable {
    public var tenant: String
    public var receivedAt: Date
    public var reason: String
    public var message: String

    public init(tenant: String, receivedAt: Date, reason: String, message: String) {
        self.tenant = tenant
        self.receivedAt = receivedAt
        self.reason = reason
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case tenant
        case receivedAt = "received_at"
        case reason
        case message
    }
}
