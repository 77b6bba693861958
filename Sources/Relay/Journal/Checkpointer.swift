import GRDB
import NIOConcurrencyHelpers

/// Copies the journal's write-ahead log into the database file on a connection of its own, so that
/// commits never wait for it.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses 1,000 WAL pages: that commit
/// then copies megabytes and syncs the database file, and every event behind it waits. A passive
/// checkpoint on another connection takes no lock a writer needs.
///
/// A passive checkpoint alone never lets the log start over while events keep coming: by the time it
/// has copied what it saw, the writer has appended more, and SQLite restarts the log only for a
/// writer that finds it fully copied. The log would grow without end, every commit's fsync would
/// have new blocks to allocate, and the eventual cut back to `journal_size_limit` would free
/// hundreds of megabytes at once. So after each background checkpoint the writer itself copies the
/// little written meanwhile, between two of its transactions, and its next transaction starts the
/// log from the beginning, overwriting blocks it already has.
final class Checkpointer: Sendable {
    private struct State {
        var running = false
        var last = ContinuousClock.now
        /// A background checkpoint finished and the writer has not caught up with it yet.
        var catchUpDue = false
    }

    private let queue: DatabaseQueue
    private let interval: Duration
    private let state = NIOLockedValueBox(State())

    /// - Parameter interval: the least time between two checkpoints while the journal is written.
    init(path: String, synchronous: String, interval: Duration = .seconds(1)) throws {
        var configuration = Configuration()
        configuration.label = "journal checkpointer"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// The journal was written; called on the writer's connection, between transactions. Catches up
    /// with a finished background checkpoint, and starts the next one in the background when the last
    /// one is `interval` old and none is running.
    func written(on writer: Database) {
        let (catchUp, start) = state.withLockedValue { state in
            // Set only as a background checkpoint ends, and taken here before the next one can start.
            let catchUp = state.catchUpDue
            state.catchUpDue = false
            guard !state.running, ContinuousClock.now - state.last >= interval else { return (catchUp, false) }
            state.running = true
            return (catchUp, true)
        }
        if catchUp {
            // A failure (the disk is full) leaves the pages in the WAL, where they are just as durable;
            // the next checkpoint tries again.
            try? writer.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)")
        }
        guard start else { return }
        queue.asyncWriteWithoutTransaction { [state] db in
            try? db.execute(sql: "PRAGMA wal_checkpoint(PASSIVE)")
            state.withLockedValue { state in
                state.running = false
                state.catchUpDue = true
                state.last = .now
            }
        }
    }

    /// Checkpoints now and returns how many WAL frames are still not in the database file.
    func checkpoint() async throws -> Int {
        try await queue.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            let (log, done): (Int, Int) = (row?[1] ?? 0, row?[2] ?? 0)
            return max(0, log - done)
        }
    }
}
