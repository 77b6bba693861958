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
        var text = ""
        text.reserveCapacity(entries.count * 900)
        for entry in entries {
            switch format {
            case .json: text += entry.json
            case .pretty: text += pretty.line(entry.event)
            }
            text += "\n"
        }
        file.withLockedValue { $0.write(text) }
    }
}
