import CallEvents
import Foundation
import Logging
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
        /// Since when writes fail, and how many events were left out since.
        var failing: (since: Date, skipped: Int)?
    }

    /// What a write changed that is worth a log line, said once the lock is let go.
    private enum Change {
        case failed(reason: String)
        case recovered(since: Date, skipped: Int)
    }

    private let state: NIOLockedValueBox<State>
    private let format: Format
    private let pretty: PrettyEventFormat
    private let path: String
    private let logger: Logger
    /// A buffer grown past this by an unusually large batch is let go after it.
    private static let keptCapacity = 4 << 20

    /// - Parameters:
    ///   - path: "-" for standard output, or a file appended to.
    ///   - colour: nil colours pretty lines only when they go to a terminal.
    ///   - logger: told when writes start failing (a full disk, a closed pipe) and when they work
    ///     again, with how many events the stream lacks (the journal has them all).
    public init(
        path: String, format: Format, maxBytes: Int = 100 << 20, keep: Int = 5, colour: Bool? = nil,
        logger: Logger = Journal.silentLogger
    ) throws {
        let file = try RotatingFile(path: path, maxBytes: maxBytes, keep: keep)
        self.pretty = PrettyEventFormat(colour: colour ?? file.isTerminal)
        self.state = NIOLockedValueBox(State(file: file))
        self.format = format
        self.path = path
        self.logger = logger
    }

    public func write(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        let change: Change? = state.withLockedValue { state in
            let failure = Self.write(entries, format: format, pretty: pretty, to: &state)
            switch (failure, state.failing) {
            case (nil, nil):
                return nil
            case (nil, let failing?):
                state.failing = nil
                return Change.recovered(since: failing.since, skipped: failing.skipped)
            case (let reason?, nil):
                state.failing = (Date(), entries.count)
                return Change.failed(reason: reason)
            case (_?, let failing?):
                state.failing = (failing.since, failing.skipped + entries.count)
                return nil
            }
        }
        guard let change else { return }
        let stream = path == "-" ? "standard output" : path
        switch change {
        case .failed(let reason):
            logger.warning(
                "cannot write the log stream; its events are left out until it can be written again (the journal and `callrelay tail` have them)",
                metadata: ["path": "\(stream)", "error": "\(reason)"])
        case .recovered(let since, let skipped):
            logger.notice(
                "the log stream is written again; it lacks the events left out meanwhile (`callrelay tail --since` shows them)",
                metadata: [
                    "path": "\(stream)", "events_left_out": "\(skipped)",
                    "since": "\(RFC3339.string(since))",
                ])
        }
    }

    /// Writes one batch; returns why it could not, if it could not.
    private static func write(
        _ entries: [JournalEntry], format: Format, pretty: PrettyEventFormat, to state: inout State
    ) -> String? {
        // A commit's entries are its JSON Lines already, in one buffer: written as they are.
        if format == .json, let outcome = JournalEntry.withLines(of: entries, { state.file.write($0) }) {
            return outcome
        }
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
        let file = state.file
        let failure = state.lines.withUnsafeBufferPointer { file.write($0) }
        if state.lines.capacity > Self.keptCapacity { state.lines = [] }
        return failure
    }
}
