import CallEvents
import Foundation
import NIOConcurrencyHelpers

/// Every committed event as JSON Lines (for `jq` and log shippers) or as one readable line (for
/// people), to standard output or to a file rotated by size.
public final class LogStreamSink: EventSink {
    public enum Format: String, Sendable, CaseIterable {
        case json, pretty
    }

    private let file: NIOLockedValueBox<RotatingFile>
    private let format: Format
    private let pretty: PrettyEventFormat

    /// - Parameters:
    ///   - path: "-" for standard output, or a file appended to.
    ///   - colour: nil colours pretty lines only when they go to a terminal.
    public init(path: String, format: Format, maxBytes: Int = 100 << 20, keep: Int = 5, colour: Bool? = nil) throws {
        let file = try RotatingFile(path: path, maxBytes: maxBytes, keep: keep)
        self.pretty = PrettyEventFormat(colour: colour ?? file.isTerminal)
        self.file = NIOLockedValueBox(file)
        self.format = format
    }

    public func write(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        // Bytes rather than a `String`: appending a few hundred lines to a string re-checks and
        // regrows it line by line, which showed in the pipeline's profile.
        var lines: [UInt8] = []
        switch format {
        case .json:
            lines.reserveCapacity(entries.reduce(0) { $0 + $1.json.utf8.count + 1 })
            for entry in entries { Self.append(entry.json, to: &lines) }
        case .pretty:
            for entry in entries { Self.append(pretty.line(entry.event), to: &lines) }
        }
        file.withLockedValue { $0.write(lines) }
    }

    private static func append(_ line: String, to lines: inout [UInt8]) {
        lines.append(contentsOf: line.utf8)
        lines.append(UInt8(ascii: "\n"))
    }
}
