import Foundation

/// `gaps.jsonl` in the data directory: every gap, one JSON object per line.
public struct GapLog: Sendable {
    private let file: BoundedJSONLinesFile<Gap>

    public var url: URL { file.url }
    /// Past this, the file is moved to `gaps.jsonl.1` (replacing the one before) and starts over.
    public var maxBytes: Int { file.maxBytes }

    /// - Parameter maxBytes: 16 MiB by default, some 80,000 gaps: a connection that drops every few
    ///   seconds for weeks must not fill the disk the journal needs.
    public init(dataDirectory: URL, maxBytes: Int = 16 << 20) {
        file = BoundedJSONLinesFile(url: dataDirectory.appendingPathComponent("gaps.jsonl"), maxBytes: maxBytes)
    }

    public func record(_ gap: Gap) async throws {
        try await file.append(gap)
    }

    /// Every gap still on record (this file and the one before), oldest first, an open gap left out
    /// once a later record closed it; lines that do not parse are skipped.
    public func all(tenant: String? = nil) throws -> [Gap] {
        Gap.merged(try file.all(decode: Gap.init(jsonLine:)).filter { tenant == nil || $0.tenant == tenant })
    }
}
