import CallEvents
import Foundation
import NIOConcurrencyHelpers

/// Every committed event as JSON Lines (for `jq` and log shippers) or as one readable line (for
/// people), to standard output or to a file rotated by size.
public final class LogStreamSink: EventSink {
    public enum Format: String, Sendable, CaseIterable {
        case json, pretty
    }

    /// The file, and the buffer each batch's lines are gathered in: kept from one batch to the next,
    /// as a fresh megabyte for every commit cost a page fault per page.
    private struct State {
        var file: RotatingFile
        var lines: [UInt8] = []
    }

    private let state: NIOLockedValueBox<State>
    private let format: Format
    private let pretty: PrettyEventFormat
    /// A buffer grown past this by an unusually large batch is let go after it.
    private static let keptCapacity = 4 << 20

    /// - Parameters:
    ///   - path: "-" for standard output, or a file appended to.
    ///   - colour: nil colours pretty lines only when they go to a terminal.
    public init(path: String, format: Format, maxBytes: Int = 100 << 20, keep: Int = 5, colour: Bool? = nil) throws {
        let file = try RotatingFile(path: path, maxBytes: maxBytes, keep: keep)
        self.pretty = PrettyEventFormat(colour: colour ?? file.isTerminal)
        self.state = NIOLockedValueBox(State(file: file))
        self.format = format
    }

    public func write(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        let (format, pretty) = (self.format, self.pretty)
        state.withLockedValue { state in
            // Bytes rather than a `String`: appending a few hundred lines to a string re-checks and
            // regrows it line by line, which showed in the pipeline's profile.
            state.lines.removeAll(keepingCapacity: true)
            switch format {
            case .json:
                state.lines.reserveCapacity(entries.reduce(0) { $0 + $1.json.utf8.count + 1 })
                for entry in entries { Self.append(entry.json, to: &state.lines) }
            case .pretty:
                for entry in entries { Self.append(pretty.line(entry.event), to: &state.lines) }
            }
            state.file.write(state.lines)
            if state.lines.capacity > Self.keptCapacity { state.lines = [] }
        }
    }

    private static func append(_ line: String, to lines: inout [UInt8]) {
        lines.append(contentsOf: line.utf8)
        lines.append(UInt8(ascii: "\n"))
    }
}
