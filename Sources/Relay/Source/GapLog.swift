import Foundation

/// A window in which the PBX may have sent events we never saw: from the last event before a drop
/// to the resubscription after it. The PBX does not replay, so these are the minutes to reconcile.
///
/// A gap with no `end` is open: the relay stopped while it lasted (or stopped the tenant's stream by
/// stopping), and the next start records it again with its end.
public struct Gap: Codable, Sendable, Equatable {
    public var tenant: String
    public var start: Date
    public var end: Date?
    public var cause: String

    public init(tenant: String, start: Date, end: Date?, cause: String) {
        self.tenant = tenant
        self.start = start
        self.end = end
        self.cause = cause
    }

    /// Up to `now` for an open gap.
    public func duration(now: Date = Date()) -> TimeInterval { (end ?? now).timeIntervalSince(start) }

    /// Leaves out each open gap that a later record of the same tenant closed (same start, to the
    /// second the file keeps).
    public static func merged(_ gaps: [Gap]) -> [Gap] {
        var closed = Set<String>()
        var result: [Gap] = []
        for gap in gaps.reversed() {
            let key = "\(gap.tenant) \(gap.start.timeIntervalSince1970.rounded(.down))"
            if gap.end != nil {
                closed.insert(key)
            } else if closed.contains(key) {
                continue
            }
            result.append(gap)
        }
        return result.reversed()
    }
}

/// Appends gaps to `gaps.jsonl` in the data directory, one JSON object per line, and reads them back.
public actor GapLog {
    public nonisolated let url: URL
    /// Past this, the file is moved to `gaps.jsonl.1` (replacing the one before) and starts over.
    public nonisolated let maxBytes: Int

    /// - Parameter maxBytes: 16 MiB by default, some 80,000 gaps: a connection that drops every few
    ///   seconds for weeks must not fill the disk the journal needs.
    public init(dataDirectory: URL, maxBytes: Int = 16 << 20) {
        url = dataDirectory.appendingPathComponent("gaps.jsonl")
        self.maxBytes = maxBytes
    }

    public func record(_ gap: Gap) throws {
        try JSONLines.append(gap, to: url, maxBytes: maxBytes)
    }

    /// Every gap still on record (this file and the one before), oldest first; lines that do not
    /// parse are skipped.
    public nonisolated func all(tenant: String? = nil) throws -> [Gap] {
        Gap.merged(try JSONLines.read(Gap.self, from: url).filter { tenant == nil || $0.tenant == tenant })
    }
}

/// A line-per-record JSON file, appended with one write per record so a crash loses at most the
/// record being written, never earlier ones. Bounded: past its size it becomes `NAME.1` (the one
/// before is dropped) and a new file starts, so at most twice the bound is kept.
enum JSONLines {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func append<T: Encodable>(_ value: T, to url: URL, maxBytes: Int) throws {
        var data = try encoder.encode(value)
        data.append(0x0A)
        let directory = url.deletingLastPathComponent()
        try DataDirectory.create(directory)
        func openFile() throws -> Int32 {
            let descriptor = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, DataDirectory.fileMode)
            guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
            return descriptor
        }
        var descriptor = try openFile()
        let size = DataDirectory.size(of: descriptor)
        if size > 0, size + data.count > maxBytes {
            close(descriptor)
            rename(url.path, url.path + ".1")
            descriptor = try openFile()
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path]) }
    }

    /// The records of the file before (`NAME.1`) and then of this one.
    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> [T] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try [URL(fileURLWithPath: url.path + ".1"), url].flatMap { file -> [T] in
            guard FileManager.default.fileExists(atPath: file.path) else { return [] }
            let text = try String(contentsOf: file, encoding: .utf8)
            return text.split(separator: "\n").compactMap { try? decoder.decode(T.self, from: Data($0.utf8)) }
        }
    }
}
