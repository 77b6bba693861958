import Foundation
import NIOConcurrencyHelpers

/// Makes the journal's commits durable off the writer's thread (pipelined group commit), and runs
/// each commit's follow-up (its sinks) once its events are on the disk.
///
/// With `synchronous = FULL`, SQLite fsyncs the write-ahead log inside every commit, and the writer
/// waits for the disk, with nothing else to run on a one-core machine. Instead the writer commits with `synchronous =
/// NORMAL` (the log is written, not synced) and goes on to the next batch while this syncs the log
/// on a thread of its own. One `fdatasync` covers every commit written before it began, so the
/// commits that arrive during a sync share the next one.
///
/// Nothing sees a commit before it is durable: its follow-up runs after the sync, in commit order,
/// and ``durableSequence`` (which the webhook deliverer reads up to) moves only then. A crash of the
/// process loses nothing either way: the log's pages are the kernel's once written.
///
/// A failed sync is final. After a failed `fsync`, Linux may drop the pages it could not write and
/// count them clean, so that a second `fsync` succeeds without the data ever reaching the disk. So
/// the syncer stops: the follow-ups of unsynced commits never run, every wait fails with
/// ``JournalError/syncFailed(path:reason:)``, and the daemon exits, to start again from what the
/// disk really holds.
final class WALSyncer: Sendable {
    /// Syncs the log: 0, or the `errno` of the failure.
    typealias Sync = @Sendable () -> Int32

    /// A commit's place in line: the n-th commit handed to the syncer has ticket n.
    typealias Ticket = UInt64

    private struct Pending {
        var sequence: Int64
        var followUp: @Sendable () -> Void
    }

    private struct Waiter {
        var ticket: Ticket
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var pending: [Pending] = []
        /// The ticket of the next commit.
        var next: Ticket = 1
        /// Commits up to this ticket are durable and their follow-ups have run.
        var done: Ticket = 0
        var durable: Int64
        var syncing = false
        var failure: JournalError?
        var waiters: [Waiter] = []
    }

    private let path: String
    private let sync: Sync
    private let queue = DispatchQueue(label: "journal log sync")
    private let state: NIOLockedValueBox<State>

    /// - Parameters:
    ///   - path: the write-ahead log, for errors.
    ///   - durable: the newest sequence already on the disk.
    init(path: String, durable: Int64, sync: @escaping Sync) {
        self.path = path
        self.sync = sync
        state = NIOLockedValueBox(State(durable: durable))
    }

    /// For durability `normal`: the commits' follow-ups run in order, with no sync before them.
    static let noSync: Sync = { 0 }

    /// Syncs the write-ahead log at `path`, and its directory the first time the log is there.
    ///
    /// The directory too: SQLite syncs the directory entry of a new log at its own first sync of the
    /// log, which with `synchronous = NORMAL` is the first checkpoint. Until then a power cut could
    /// lose the whole file, synced contents and all.
    static func logSync(path: String) -> Sync {
        let directorySynced = NIOLockedValueBox(false)
        let directory = (path as NSString).deletingLastPathComponent
        return {
            guard let code = syncFile(at: path) else { return 0 }
            guard code == 0, !directorySynced.withLockedValue({ $0 }) else { return code }
            let directoryCode = syncFile(at: directory) ?? ENOENT
            if directoryCode == 0 { directorySynced.withLockedValue { $0 = true } }
            return directoryCode
        }
    }

    /// `fdatasync` of the file at `path` (on its own descriptor: a sync covers the file, whichever
    /// descriptor wrote it): 0 or the `errno` of the failure; nil when there is no such file.
    static func syncFile(at path: String) -> Int32? {
        var descriptor: Int32
        repeat { descriptor = open(path, O_RDONLY | O_CLOEXEC) } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { return errno == ENOENT ? nil : errno }
        defer { close(descriptor) }
        #if os(Linux)
            let result = fdatasync(descriptor)
        #else
            let result = fsync(descriptor)
        #endif
        return result == 0 ? 0 : errno
    }

    /// Syncs now, on the caller's thread: at open, before anything reads what the log holds.
    func syncNow() throws(JournalError) {
        let code = sync()
        if code != 0 { throw failure(code) }
    }

    private func failure(_ code: Int32) -> JournalError {
        .syncFailed(path: path, reason: String(cString: strerror(code)))
    }

    /// The newest sequence known to be on the disk.
    var durableSequence: Int64 { state.withLockedValue { $0.durable } }

    /// The failure that stopped the syncer, if one did.
    var failure: JournalError? { state.withLockedValue { $0.failure } }

    /// A commit up to `sequence` was written: `followUp` runs on the syncer's thread once it is
    /// durable, after the follow-ups of earlier commits. Called on the writer, in commit order.
    func committed(upTo sequence: Int64, followUp: @escaping @Sendable () -> Void) -> Ticket {
        let (ticket, start) = state.withLockedValue { state -> (Ticket, Bool) in
            let ticket = state.next
            state.next += 1
            // After a failure nothing is durable any more; waiting on the ticket reports it.
            guard state.failure == nil else { return (ticket, false) }
            state.pending.append(Pending(sequence: sequence, followUp: followUp))
            defer { state.syncing = true }
            return (ticket, !state.syncing)
        }
        if start { queue.async { self.drain() } }
        return ticket
    }

    /// Waits until the commit of `ticket` is durable and its follow-up has run.
    func wait(for ticket: Ticket) async throws(JournalError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, JournalError>? = state.withLockedValue { state in
                    if state.done >= ticket { return .success(()) }
                    if let failure = state.failure { return .failure(failure) }
                    state.waiters.append(Waiter(ticket: ticket, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } catch let error as JournalError {
            throw error
        } catch {
            throw .syncFailed(path: path, reason: "\(error)")
        }
    }

    /// Waits until at most `limit` commits wait for a sync: the writer's brake, so that a slow disk
    /// holds the queue (and the sources) back instead of piling up commits whose sinks are owed.
    func waitForRoom(limit: Int) async throws(JournalError) {
        let next = state.withLockedValue { $0.next }
        let limit = Ticket(max(limit, 1))
        guard next > limit else { return }
        try await wait(for: next - limit)
    }

    /// Waits until every commit so far is durable.
    func waitForAll() async throws(JournalError) {
        try await wait(for: state.withLockedValue { $0.next } - 1)
    }

    /// Syncs until no commit is waiting; on the syncer's queue.
    private func drain() {
        while true {
            let taken = state.withLockedValue { state -> (pending: [Pending], last: Ticket)? in
                guard !state.pending.isEmpty, state.failure == nil else {
                    state.syncing = false
                    return nil
                }
                defer { state.pending = [] }
                return (state.pending, state.next - 1)
            }
            guard let taken else { return }
            let code = sync()
            if code != 0 {
                let failure = failure(code)
                let waiters = state.withLockedValue { state in
                    state.failure = failure
                    state.syncing = false
                    state.pending = []
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.continuation.resume(throwing: failure) }
                return
            }
            // Before the follow-ups: a sink that wakes the deliverer must find its events readable.
            state.withLockedValue { state in
                state.durable = max(state.durable, taken.pending.map(\.sequence).max() ?? 0)
            }
            for commit in taken.pending { commit.followUp() }
            let ready = state.withLockedValue { state in
                state.done = taken.last
                let ready = state.waiters.filter { $0.ticket <= taken.last }
                state.waiters.removeAll { $0.ticket <= taken.last }
                return ready
            }
            for waiter in ready { waiter.continuation.resume() }
        }
    }
}
