import CallEvents
import Foundation
import NIOConcurrencyHelpers

/// Every committed event as JSON Lines (for `jq` and log shippers) or as one readable line (for
/// people), to standard output or to a file rotated by size.
public final class LogStreamSink: EventSink {
    public enum Format: String, Sendable, CaseIterable {
        case json, pretty
    }

    /// The file, and the buffer lines are gathered in when they do not come as one commit's: kept from
    /// one batch to the next, as a fresh megabyte for every batch cost a page fault per page.
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
            // A commit's entries are its JSON Lines already, in one buffer: written as they are.
            if format == .json, JournalEntry.withLines(of: entries, { state.file.write($0) }) != nil { return }
            // Otherwise gathered as bytes rather than a `String`: appending a few hundred lines to a
            // string re-checks and regrows it line by line, which showed in the pipeline's profile.
            state.lines.removeAll(keepingCapacity: true)
            switch format {
            case .json:
                for entry in entries {
                    entry.withJSON { state.lines.append(contentsOf: $0) }
                    state.lines.append(UInt8(ascii: "\n"))
                }
            case .pretty:
                for entry in entries {
                    state.lines.append(contentsOf: pretty.line(entry.event).utf8)
                    state.lines.append(UInt8(ascii: "\n"))
                }
            }
            state.lines.withUnsafeBufferPointer { state.file.write($0) }
            if state.lines.capacity > Self.keptCapacity { state.lines = [] }
        }
    }
}
