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
    public nonisolated let url: URL
    /// Past this, the file is moved to `dead-letters.jsonl.1` (replacing the one before) and starts
    /// over.
    public nonisolated let maxBytes: Int

    /// - Parameter maxBytes: 64 MiB by default. A PBX whose every message became unreadable (a new
    ///   format) would otherwise fill the disk the journal needs; the newest letters are the ones
    ///   that show what changed.
    public init(dataDirectory: URL, maxBytes: Int = 64 << 20) {
        url = dataDirectory.appendingPathComponent("dead-letters.jsonl")
        self.maxBytes = maxBytes
    }

    public func keep(_ letter: DeadLetter) throws {
        try JSONLines.append(letter, to: url, maxBytes: maxBytes)
    }

    /// Every letter still on record (this file and the one before), oldest first.
    public nonisolated func all() throws -> [DeadLetter] {
        try JSONLines.read(DeadLetter.self, from: url)
    }
}
