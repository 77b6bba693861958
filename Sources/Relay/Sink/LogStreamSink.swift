import CallEvents
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Every committed event as JSON Lines (for `jq` and log shippers) or as one readable line (for
/// people), to standard output or to a file rotated by size.
///
/// The stream never holds up the journal or the webhooks. Committed events are queued in memory (up
/// to `bufferLimit` bytes of JSON) and written by a thread of the stream's own, which may block on a
/// full pipe for as long as its reader stalls. Past the bound, events are left out of the stream,
/// counted and logged; the journal and `callrelay tail` still have them.
///
/// With a `position` file, the sequence of the last event written is kept there (at most a second
/// behind), and a restart first writes what was committed after it: events committed just before a
/// crash still reach the stream, and a power cut may repeat up to a second of them.
public final class LogStreamSink: EventSink {
    public enum Format: String, Sendable, CaseIterable {
        case json, pretty
    }

    /// How much committed JSON may wait for a slow reader before events are left out.
    public static let defaultBufferLimit = 16 << 20
    /// The most events a start writes from the journal to catch up; older ones are only named.
    public static let catchUpLimit = 100_000

    private let queue: LogStreamQueue
    private let path: String

    /// - Parameters:
    ///   - path: "-" for standard output, or a file appended to.
    ///   - colour: nil colours pretty lines only when they go to a terminal.
    ///   - logger: told when events start being left out (a full disk, a closed pipe, a reader that
    ///     stopped reading) and when the stream is written again, with how many events it lacks.
    ///   - bufferLimit: bytes of events that may wait for the writer.
    ///   - position: where the last written sequence is kept, and `journal` to catch up from it.
    public init(
        path: String, format: Format, maxBytes: Int = 100 << 20, keep: Int = 5, colour: Bool? = nil,
        logger: Logger = Journal.silentLogger, bufferLimit: Int = LogStreamSink.defaultBufferLimit,
        position: LogStreamPosition? = nil, journal: Journal? = nil
    ) throws {
        let file = try RotatingFile(path: path, maxBytes: maxBytes, keep: keep)
        let pretty = PrettyEventFormat(colour: colour ?? file.isTerminal)
        self.path = path
        var catchUp: LogStreamQueue.CatchUp?
        if let position, let journal {
            let newest = try journal.lastSequence()
            if let last = position.load(), last < newest {
                catchUp = .init(journal: journal, after: last, through: newest)
            } else {
                // First start with this stream, or nothing missed: it begins with the next commit.
                position.save(newest)
            }
        }
        queue = LogStreamQueue(
            file: file, format: format, pretty: pretty, stream: path == "-" ? "standard output" : path, logger: logger,
            bufferLimit: max(bufferLimit, 1), position: position, catchUp: catchUp)
    }

    deinit { queue.stopNow() }

    /// Queues the entries for the writer; never waits for it.
    public func write(_ entries: [JournalEntry]) {
        guard !entries.isEmpty else { return }
        queue.enqueue(entries)
    }

    /// Waits up to `timeout` for the queued events to be written, and records the position reached.
    /// - Returns: whether everything queued was written.
    @discardableResult
    public func flush(timeout: Duration = .seconds(5)) -> Bool {
        queue.flush(timeout: timeout)
    }

    /// Writes what is queued (waiting up to two seconds for a stalled reader) and stops the writer.
    /// Events still queued then are written after the next start, from the journal.
    public func finish() async {
        let queue = self.queue
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // The wait blocks: on a thread of its own, not on the caller's.
            Thread.detachNewThread {
                queue.stop(timeout: .seconds(2))
                done.resume()
            }
        }
    }
}

/// The last sequence the log stream wrote, in `DATA_DIR/log-stream.position`.
public struct LogStreamPosition: Sendable {
    public let path: String

    public init(dataDirectory: URL) {
        path = dataDirectory.appendingPathComponent("log-stream.position").path
    }

    public func load() -> Int64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Replaced whole by a rename; not synced, since a lost update only repeats events in the stream.
    func save(_ sequence: Int64) {
        try? ReplacedFile.write("\(sequence)\n", to: path, mode: DataDirectory.fileMode, durable: false)
    }
}
