import CallEvents
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Sources → normalize → dedupe and journal (group commit) → sinks.
///
/// Sources submit normalized events and go back to their sockets; one writer takes everything that
/// is waiting and commits it in one transaction, and once the disk has it, the journal hands it to
/// the sinks while the writer commits the next batch. Nothing is acknowledged to the PBX, so waiting
/// for each commit would only slow a busy tenant down.
public final class EventPipeline: Sendable {
    public let journal: any EventJournal
    private let sinks: [any EventSink]
    private let queue: BatchQueue<CallEvent>
    private let logger: Logger
    private let counters = NIOLockedValueBox(PipelineCounters())
    private let pruneInterval: Duration
    private let deadLetters: DeadLetterFile?

    /// - Parameter deadLetters: where an event the journal refuses is set aside.
    public init(
        journal: any EventJournal, sinks: [any EventSink], logger: Logger, queueCapacity: Int = 10_000,
        pruneInterval: Duration = .seconds(60), deadLetters: DeadLetterFile? = nil
    ) {
        self.deadLetters = deadLetters
        self.journal = journal
        self.sinks = sinks
        self.logger = logger
        self.queue = BatchQueue(capacity: queueCapacity, maxBatch: journal.options.maxBatch)
        self.pruneInterval = pruneInterval
    }

    /// Queues one event for the journal; waits only while the queue is full.
    public func submit(_ event: CallEvent) async {
        counters.withLockedValue { $0.received += 1 }
        if await !queue.push(event) {
            logger.error("event arrived after shutdown began; not journaled", metadata: ["id": "\(event.id)"])
        }
    }

    public var stats: PipelineCounters { counters.withLockedValue { $0 } }

    /// No more events: ``run()`` commits what is queued and returns.
    public func finish() { queue.finish() }

    /// Commits batches until ``finish()``, and returns once everything committed is durable and has
    /// reached the sinks. A commit that fails for the disk's sake (a full disk) is retried with the
    /// same events until it succeeds: nothing is dropped, and the full queue holds the sources back.
    /// A commit SQLite refuses for what it holds is split until the event it refuses is alone; that
    /// event is set aside as a dead letter with the reason, and the rest go on.
    ///
    /// - Throws: ``JournalError/syncFailed(path:reason:)`` when the disk failed to make commits
    ///   durable, which no retry can be trusted to fix: the daemon must stop.
    public func run() async throws(JournalError) {
        var lastPrune = ContinuousClock.now
        await prune()
        while true {
            // A full batch waiting is committed at once, beside the sync of the one before; a smaller
            // one grows while that sync (and its sinks) run: committing it at once only split the
            // events into more commits, each a page written and synced.
            if queue.count < journal.options.maxBatch { try await waitUntilDurable() }
            guard let batch = await queue.next() else { break }
            // Parts of the batch still to commit, the next one last: a refused part is split in two.
            var parts = [batch]
            var retry = Duration.milliseconds(500)
            while let part = parts.last {
                do {
                    try await commit(part)
                    parts.removeLast()
                    retry = .milliseconds(500)
                } catch let error where error.code == .refused {
                    parts.removeLast()
                    if part.count > 1 {
                        let half = part.count / 2
                        parts.append(Array(part[half...]))
                        parts.append(Array(part[..<half]))
                    } else if let event = part.first {
                        await setAside(event, reason: error.reason ?? "\(error)")
                    }
                } catch {
                    if error.code == .syncFailed {
                        queue.finish()
                        throw stopping(error, events: parts.reduce(0) { $0 + $1.count } + queue.count)
                    }
                    logger.error(
                        "journal commit failed; retrying the same events",
                        metadata: ["error": "\(error)", "events": "\(part.count)"])
                    if Task.isCancelled {
                        logger.critical(
                            "stopping with events not journaled",
                            metadata: ["events": "\(parts.reduce(0) { $0 + $1.count } + queue.count)"])
                        queue.finish()
                        return
                    }
                    try? await Task.sleep(for: retry)
                    retry = min(retry * 2, .seconds(30))
                }
            }
            if ContinuousClock.now - lastPrune >= pruneInterval {
                lastPrune = .now
                await prune()
            }
        }
        try await waitUntilDurable()
    }

    /// One commit, in a task of its own, so that a cancelled pipeline (the daemon stopping because a
    /// service failed) still commits what it already holds.
    private func commit(_ events: [CallEvent]) async throws(JournalError) {
        let started = ContinuousClock.now
        let journal = self.journal
        let sinks = self.sinks
        let outcome: CommitOutcome
        do {
            outcome = try await Task { () async throws(JournalError) -> CommitOutcome in
                try await journal.commitWithoutWaiting(events) { entries in
                    for sink in sinks { sink.write(entries) }
                }
            }.value
        } catch let error as JournalError {
            throw error
        } catch {
            throw .writeFailed(path: journal.path, reason: "\(error)")
        }
        record(outcome, took: ContinuousClock.now - started)
    }

    /// An event the journal refuses on its own: kept in the dead letters with the reason, so that it
    /// never holds up every tenant behind it.
    private func setAside(_ event: CallEvent, reason: String) async {
        counters.withLockedValue { $0.refused += 1 }
        logger.error(
            "the journal refused an event; it is set aside in the dead letters and the others go on",
            metadata: ["tenant": "\(event.data.tenant)", "id": "\(event.id)", "type": "\(event.type)", "error": "\(reason)"])
        guard let deadLetters else { return }
        do {
            try await deadLetters.keep(
                DeadLetter(
                    tenant: event.data.tenant, receivedAt: event.data.receivedAt, reason: "refused by the journal: \(reason)",
                    message: event.json()))
        } catch {
            logger.error("cannot write the dead-letter file", metadata: ["error": "\(error)", "id": "\(event.id)"])
        }
    }

    private func waitUntilDurable() async throws(JournalError) {
        do {
            try await journal.waitUntilDurable()
        } catch {
            // Nothing more is taken: producers waiting for room are let go.
            queue.finish()
            throw stopping(error, events: queue.count)
        }
    }

    /// Logs why the pipeline stops on a failed sync, with the events it leaves unjournaled.
    private func stopping(_ error: JournalError, events: Int) -> JournalError {
        logger.critical(
            "stopping: the disk failed to make the journal durable", metadata: ["error": "\(error)", "events": "\(events)"])
        return error
    }

    private func record(_ outcome: CommitOutcome, took duration: Duration) {
        let transfers = outcome.committed.count { $0.event.type == .transferred }
        counters.withLockedValue {
            $0.commits += 1
            $0.commitSeconds += duration.seconds
            $0.committed += outcome.committed.count
            $0.duplicates += outcome.duplicates.count
            $0.transfers += transfers
        }
        for duplicate in outcome.duplicates {
            logger.debug(
                "duplicate dropped",
                metadata: [
                    "tenant": "\(duplicate.data.tenant)", "id": "\(duplicate.id)", "type": "\(duplicate.type)",
                    "call": "\(duplicate.data.callId)",
                ])
        }
    }

    private func prune() async {
        do {
            try await journal.prune(now: Date())
        } catch {
            logger.warning("journal pruning failed", metadata: ["error": "\(error)"])
        }
    }
}
