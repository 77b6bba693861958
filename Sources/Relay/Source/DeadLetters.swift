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

/// `dead-letters.jsonl` in the data directory: one malformed message per line.
public actor DeadLetterFile {
    public let url: URL

    public init(dataDirectory: URL) {
        url = dataDirectory.appendingPathComponent("dead-letters.jsonl")
    }

    public func keep(_ letter: DeadLetter) throws {
        try JSONLines.append(letter, to: url)
    }

    public nonisolated func all() throws -> [DeadLetter] {
        try JSONLines.read(DeadLetter.self, from: url)
    }
}
