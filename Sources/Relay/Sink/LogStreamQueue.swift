import CallRelayCore
import CallEvents
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The log stream's bounded queue and the thread that empties it into the file.
///
/// `@unchecked Sendable`: the queue's fields are guarded by `condition`; `file`, `lines` and the
/// catch-up are used by the writer thread alone.
final class LogStreamQueue: @unchecked Sendable {
    /// Events committed before the start that the stream had not written yet.
    struct CatchUp {
        let journal: Journal
        let after: Int64
        let through: Int64
    }

    /// An episode of events left out: since when, how many, and the first batch whose write ends it.
    private struct Failing {
        var since: Date
        var skipped: Int
        var endsWith: Int
    }

    private let condition = NSCondition()
    private var batches: [[JournalEntry]] = []
    private var queuedBytes = 0
    /// The number the next batch queued gets.
    private var generation = 0
    private var writing = false
    private var catchingUp: Bool
    private var stopped = false
    private var failing: Failing?
    private var writtenThrough: Int64 = 0

    private let file: RotatingFile
    private let format: LogStreamSink.Format
    private let pretty: PrettyEventFormat
    private let stream: String
    private let logger: Logger
    private let bufferLimit: Int
    private let position: LogStreamPosition?
    private let positionLock = NIOLock()
    private var lines: [UInt8] = []
    /// A buffer grown past this by an unusually large batch is let go after it.
    private static let keptCapacity = 4 << 20

    init(
        file: RotatingFile, format: LogStreamSink.Format, pretty: PrettyEventFormat, stream: String, logger: Logger,
        bufferLimit: Int, position: LogStreamPosition?, catchUp: CatchUp?
    ) {
        self.file = file
        self.format = format
        self.pretty = pretty
        self.stream = stream
        self.logger = logger
        self.bufferLimit = bufferLimit
        self.position = position
        self.catchingUp = catchUp != nil
        let thread = Thread { [self] in
            if let catchUp { self.catchUp(catchUp) }
            run()
        }
        thread.name = "callrelay log stream"
        thread.start()
    }

    func enqueue(_ entries: [JournalEntry]) {
        let bytes = entries.reduce(0) { $0 + $1.range.count + 1 }
        condition.lock()
        guard !stopped else {
            condition.unlock()
            return
        }
        guard queuedBytes == 0 || queuedBytes + bytes <= bufferLimit else {
            let started = failing == nil
            var episode = failing ?? Failing(since: Date(), skipped: 0, endsWith: generation)
            episode.skipped += entries.count
            episode.endsWith = generation
            failing = episode
            let waiting = queuedBytes
            condition.unlock()
            if started {
                logger.warning(
                    "the log stream's reader is not keeping up; its events are left out until it reads again (the journal and `callrelay tail` have them)",
                    metadata: ["path": "\(stream)", "waiting_bytes": "\(waiting)"])
            }
            return
        }
        batches.append(entries)
        queuedBytes += bytes
        generation += 1
        condition.signal()
        condition.unlock()
    }

    /// Waits until nothing is queued or being written, at most `timeout`; records the position.
    func flush(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        condition.lock()
        while !batches.isEmpty || writing || catchingUp {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { break }
            _ = condition.wait(until: Date().addingTimeInterval(min(left.seconds, 0.1)))
        }
        let drained = batches.isEmpty && !writing && !catchingUp
        let through = writtenThrough
        condition.unlock()
        savePosition(through)
        return drained
    }

    /// Flushes for up to `timeout`, then stops the writer once it is idle.
    func stop(timeout: Duration) {
        _ = flush(timeout: timeout)
        stopNow()
    }

    /// Stops the writer after what is queued, without waiting.
    func stopNow() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: The writer thread

    private func run() {
        var savedAt = ContinuousClock.now
        while true {
            condition.lock()
            while batches.isEmpty && !stopped { condition.wait() }
            if batches.isEmpty {
                condition.unlock()
                break
            }
            let taken = batches
            batches = []
            queuedBytes = 0
            let through = generation - 1
            writing = true
            condition.unlock()

            let failure = write(taken)
            let events = taken.reduce(0) { $0 + $1.count }

            condition.lock()
            var change: Change?
            if let failure {
                if var episode = failing {
                    episode.skipped += events
                    episode.endsWith = max(episode.endsWith, through + 1)
                    failing = episode
                } else {
                    failing = Failing(since: Date(), skipped: events, endsWith: through + 1)
                    change = .failed(reason: failure)
                }
            } else {
                if let last = taken.last?.last?.sequence { writtenThrough = max(writtenThrough, last) }
                if let episode = failing, through >= episode.endsWith {
                    failing = nil
                    change = .recovered(since: episode.since, skipped: episode.skipped)
                }
            }
            let written = writtenThrough
            condition.unlock()

            // Said before the batch counts as written, so that a flush returns after the news.
            if let change { report(change) }
            if ContinuousClock.now - savedAt >= .seconds(1) {
                savedAt = .now
                savePosition(written)
            }
            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
        condition.lock()
        let written = writtenThrough
        condition.unlock()
        savePosition(written)
    }

    /// Writes the events committed after the stream's position and before the start, oldest first.
    private func catchUp(_ catchUp: CatchUp) {
        defer {
            condition.lock()
            catchingUp = false
            condition.broadcast()
            condition.unlock()
        }
        var after = catchUp.after
        let missed = catchUp.through - catchUp.after
        if missed > Int64(LogStreamSink.catchUpLimit) {
            after = catchUp.through - Int64(LogStreamSink.catchUpLimit)
            logger.warning(
                "the log stream lacks events committed before this start; only the newest are written now (`callrelay tail` has them all)",
                metadata: ["path": "\(stream)", "events_left_out": "\(after - catchUp.after)"])
        }
        var written = 0
        while after < catchUp.through {
            let rows: [(sequence: Int64, json: String)]
            do {
                rows = try catchUp.journal.entries(after: after, limit: 1000).filter { $0.sequence <= catchUp.through }
            } catch {
                logger.error("cannot read the journal to catch the log stream up", metadata: ["error": "\(error)"])
                return
            }
            guard let last = rows.last else { break }
            let entries = rows.compactMap { row in
                (try? CallEvent.decode(json: row.json)).map { JournalEntry(sequence: row.sequence, json: row.json, event: $0) }
            }
            if let failure = write([entries]) {
                logger.warning(
                    "cannot write the log stream to catch it up", metadata: ["path": "\(stream)", "error": "\(failure)"])
                return
            }
            written += entries.count
            after = last.sequence
            condition.lock()
            writtenThrough = max(writtenThrough, after)
            condition.unlock()
        }
        savePosition(catchUp.through)
        logger.notice(
            "the log stream caught up with the events committed before this start",
            metadata: ["path": "\(stream)", "events": "\(written)"])
    }

    private enum Change {
        case failed(reason: String)
        case recovered(since: Date, skipped: Int)
    }

    private func report(_ change: Change) {
        switch change {
        case .failed(let reason):
            logger.warning(
                "cannot write the log stream; its events are left out until it can be written again (the journal and `callrelay tail` have them)",
                metadata: ["path": "\(stream)", "error": "\(reason)"])
        case .recovered(let since, let skipped):
            logger.notice(
                "the log stream is written again; it lacks the events left out meanwhile (`callrelay tail --since` shows them)",
                metadata: ["path": "\(stream)", "events_left_out": "\(skipped)", "since": "\(RFC3339.string(since))"])
        }
    }

    private func savePosition(_ sequence: Int64) {
        guard let position, sequence > 0 else { return }
        positionLock.withLock { position.save(sequence) }
    }

    /// Writes the batches with one `write(2)` where it can; returns why it could not, if it could not.
    private func write(_ batches: [[JournalEntry]]) -> String? {
        let file = self.file
        // One commit's entries are its JSON Lines already, in one buffer: written as they are.
        if format == .json, batches.count == 1, let outcome = JournalEntry.withLines(of: batches[0], { file.write($0) }) {
            return outcome
        }
        // Otherwise gathered as bytes rather than a `String`: appending a few hundred lines to a
        // string re-checks and regrows it line by line.
        lines.removeAll(keepingCapacity: true)
        for entries in batches {
            switch format {
            case .json:
                for entry in entries {
                    entry.withJSON { lines.append(contentsOf: $0) }
                    lines.append(UInt8(ascii: "\n"))
                }
            case .pretty:
                for entry in entries {
                    lines.append(contentsOf: pretty.line(entry.event).utf8)
                    lines.append(UInt8(ascii: "\n"))
                }
            }
        }
        let failure = lines.withUnsafeBufferPointer { file.write($0) }
        if lines.capacity > Self.keptCapacity { lines = [] }
        return failure
    }
}
