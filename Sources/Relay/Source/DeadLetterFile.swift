import Foundation

/// `dead-letters.jsonl` in the data directory: one message that could not be read (or that the
/// journal refused) per line.
public struct DeadLetterFile: Sendable {
    private let file: BoundedJSONLinesFile<DeadLetter>

    public var url: URL { file.url }
    /// Past this, the file is moved to `dead-letters.jsonl.1` (replacing the one before) and starts
    /// over.
    public var maxBytes: Int { file.maxBytes }

    /// - Parameter maxBytes: 64 MiB by default. A PBX whose every message became unreadable (a new
    ///   format) would otherwise fill the disk the journal needs; the newest letters are the ones
    ///   that show what changed.
    public init(dataDirectory: URL, maxBytes: Int = 64 << 20) {
        file = BoundedJSONLinesFile(url: dataDirectory.appendingPathComponent("dead-letters.jsonl"), maxBytes: maxBytes)
    }

    public func keep(_ letter: DeadLetter) async throws {
        try await file.append(letter)
    }

    /// Every letter still on record (this file and the one before), oldest first.
    public func all() throws -> [DeadLetter] {
        try file.all()
    }
}
