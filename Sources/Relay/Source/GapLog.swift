import Foundation

/// A window in which the PBX may have sent events we never saw: from the last event before a drop
/// to the resubscription after it. The PBX does not replay, so these are the minutes to reconcile.
public struct Gap: Codable, Sendable, Equatable {
    public var tenant: String
    public var start: Date
    public var end: Date
    public var cause: String

    public init(tenant: String, start: Date, end: Date, cause: String) {
        self.tenant = tenant
        self.start = start
        self.end = end
        self.cause = cause
    }

    public var duration: TimeInterval { end.timeIntervalSince(start) }
}

/// Appends gaps to `gaps.jsonl` in the data directory, one JSON object per line, and reads them back.
public actor GapLog {
    public let url: URL

    public init(dataDirectory: URL) {
        url = dataDirectory.appendingPathComponent("gaps.jsonl")
    }

    public func record(_ gap: Gap) throws {
        try JSONLines.append(gap, to: url)
    }

    /// Every gap recorded, oldest first; lines that do not parse are skipped.
    public nonisolated func all(tenant: String? = nil) throws -> [Gap] {
        try JSONLines.read(Gap.self, from: url).filter { tenant == nil || $0.tenant == tenant }
    }
}

/// A line-per-record JSON file, appended with one write per record so a crash loses at most the
/// record being written, never earlier ones.
enum JSONLines {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func append<T: Encodable>(_ value: T, to url: URL) throws {
        var data = try encoder.encode(value)
        data.append(0x0A)
        let directory = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
    }

    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> [T] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? decoder.decode(T.self, from: Data($0.utf8)) }
    }
}
