import Foundation

/// A line-per-record JSON file, appended with one write per record so a crash loses at most the
/// record being written, never earlier ones. Bounded: past its size it becomes `NAME.1` (the one
/// before is dropped) and a new file starts, so at most twice the bound is kept.
public actor BoundedJSONLinesFile<Record: Codable & Sendable> {
    public nonisolated let url: URL
    /// Past this many bytes the file becomes `NAME.1`.
    public nonisolated let maxBytes: Int

    private let encoder: JSONEncoder

    public init(url: URL, maxBytes: Int) {
        self.url = url
        self.maxBytes = maxBytes
        encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// Appends `record` as one line, in one write.
    public func append(_ record: Record) throws {
        var data = try encoder.encode(record)
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
    public nonisolated func all() throws -> [Record] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try all { line in try? decoder.decode(Record.self, from: Data(line.utf8)) }
    }

    /// ``all()`` with each line read by `decode` (nil skips the line): for records with a reader
    /// faster than `JSONDecoder`.
    public nonisolated func all(decode: (Substring) -> Record?) throws -> [Record] {
        try [URL(fileURLWithPath: url.path + ".1"), url].flatMap { file -> [Record] in
            guard FileManager.default.fileExists(atPath: file.path) else { return [] }
            let text = try String(contentsOf: file, encoding: .utf8)
            // Split on the byte: splitting the `String` on a `Character` walks grapheme clusters.
            return text.utf8.split(separator: 0x0A).compactMap { decode(Substring($0)) }
        }
    }
}
