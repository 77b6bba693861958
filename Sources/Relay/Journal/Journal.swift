import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers

/// The durable record of every normalized event: SQLite through GRDB, in WAL mode, in the data
/// directory.
///
/// Commits take whole batches (group commit): one transaction for everything that arrived while the
/// previous one was written, synced on a thread of its own while the writer goes on with the next
/// (``WALSyncer``). Each event and its dedupe mark go in the same transaction, and no sink sees an
/// event before it is durable.
public final class Journal: Sendable {
    public static let fileName = "journal.sqlite"
    /// The page size of a new journal, in bytes.
    static let pageSize = 4096

    /// The database file.
    public let path: String
    public let options: JournalOptions
    private let pool: DatabasePool
    /// Nil for a reader (`create: false`), which never writes.
    let checkpointer: Checkpointer?
    /// Makes commits durable and runs their sinks; nil for a reader.
    private let syncer: WALSyncer?
    /// How many commits may wait for a sync: the writer commits the next batch while the last one
    /// syncs, and then waits. More let a moderate load split into more and smaller commits (at
    /// 5,000 events/s, 8,000 commits in 5 s with 4 against 5,000 with 2), each a page written to the
    /// log and synced, for no more throughput under full load.
    static let unsyncedCommits = 2
    private let deduplication: Deduplication
    private let transfers: TransferCorrelation
    /// Webhook endpoints by tenant.
    private let routes: [String: [DeliveryRoute]]
    /// The highest sequence handed out (schema v6): each commit numbers its rows on from here.
    /// Changed only by the writer, after its transaction committed. At open it is the larger of the
    /// newest row and the `last_sequence` counter, which pruning raises to the newest row before it
    /// deletes any: only pruning removes rows, so no number is handed out twice, and a commit writes
    /// no counter (below full load each commit holds one event, and a second page per commit
    /// doubled what went to the write-ahead log).
    private let sequences = NIOLockedValueBox<Int64>(0)
    /// Delivery successes waiting for the writer (see ``recordDelivered(endpoint:sequence:attempts:onError:)``).
    let deliveredMarks = NIOLockedValueBox(DeliveredMarks())

    /// Opens the journal of `directory`, creating it for a writer, and upgrades a journal an older
    /// callrelay wrote.
    ///
    /// - Parameters:
    ///   - create: false for readers such as `tail`: a missing journal is an error, not a new empty
    ///     one, and an older one is read as it is.
    ///   - routes: the webhook endpoints of each tenant; each committed event gets a pending delivery
    ///     per endpoint that wants it, in the same transaction.
    ///   - logger: where an upgrade of the journal's schema is announced (it can take minutes).
    public convenience init(
        directory: URL, options: JournalOptions = .init(), create: Bool = true, routes: [String: [DeliveryRoute]] = [:],
        logger: Logger = Journal.silentLogger
    ) throws(JournalError) {
        try self.init(directory: directory, options: options, create: create, routes: routes, logger: logger, sync: nil)
    }

    /// Logs nothing: the default wherever a caller gives no logger (readers such as `tail`, tests,
    /// benchmarks).
    public static let silentLogger = Logger(label: "callrelay.journal") { _ in SwiftLogNoOpLogHandler() }

    /// - Parameter sync: syncs the write-ahead log (tests make it fail or wait); by default
    ///   `fdatasync` with durability `full`, nothing with `normal`.
    init(
        directory: URL, options: JournalOptions, create: Bool, routes: [String: [DeliveryRoute]],
        logger: Logger = Journal.silentLogger, sync: WALSyncer.Sync?
    ) throws(JournalError) {
        let path = directory.appendingPathComponent(Self.fileName).path
        self.path = path
        self.options = options
        self.routes = routes
        self.deduplication = Deduplication(window: options.dedupeWindow.seconds, maxEntries: options.dedupeMaxEntries)
        self.transfers = TransferCorrelation(
            window: options.transferWindow.seconds, maxEntries: options.transferMaxEntries)
        if !create, !FileManager.default.fileExists(atPath: path) { throw .missing(path: path) }
        do {
            try DataDirectory.create(directory)
        } catch {
            throw .cannotOpen(path: path, reason: error.localizedDescription)
        }
        // Every caller's number is in here. SQLite would create the file readable by everyone (0644
        // less the umask) and gives its log and index the file's mode, so a new journal is made
        // first, empty (which SQLite takes as a new database), with no access for others.
        if create {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, DataDirectory.fileMode)
            if descriptor >= 0 {
                close(descriptor)
            } else if errno != EEXIST {
                throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let synchronous = options.durability.pragma
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // 32 MiB rather than SQLite's 2 MiB: the pages commits and delivery outcomes touch again
            // (the deliveries' indexes, the events' last pages) stay in memory.
            try db.execute(sql: "PRAGMA cache_size = -32768")
            // Only a new journal takes it (a journal in WAL mode keeps the page size it was made with).
            // Below full load each commit holds one event and writes every page it touched to the log
            // whole: with a webhook, about ten (the event, the delivery row and its indexes, then its
            // outcome). 16 KiB pages made that 144 KB of log per event, 4 KiB ones 42 KB; 16 KiB
            // pages were only ~8 % faster at full load, which is rare and meets the target either way.
            try db.execute(sql: "PRAGMA page_size = \(Self.pageSize)")
            // The checkpointer does it, off the commit path.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            // After a checkpoint lets the log start over, its file is cut back to this size.
            try db.execute(sql: "PRAGMA journal_size_limit = \(64 << 20)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // Reading the schema makes SQLite read the header: a file that is not a database fails here.
            _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            if create {
                try Self.migrate(pool, path: path, logger: logger)
                let (deduplication, transfers) = (self.deduplication, self.transfers)
                let now = Date().timeIntervalSince1970
                try pool.read { db in
                    try deduplication.load(from: db, now: now)
                    try transfers.load(from: db, now: now)
                }
                // See `sequences`: the counter covers what pruning deleted, the rows the rest.
                let last = try pool.read { db in
                    max(try Int64.fetchOne(db, sql: Self.lastSequenceSQL) ?? 0, try Self.newestSequence(db))
                }
                sequences.withLockedValue { $0 = last }
                checkpointer = try Checkpointer(path: path, synchronous: synchronous, interval: options.checkpointInterval)
                let log = path + "-wal"
                let defaultSync: WALSyncer.Sync = options.durability == .full ? WALSyncer.logSync(path: log) : WALSyncer.noSync
                let syncer = WALSyncer(path: log, durable: try pool.read(Self.newestSequence), sync: sync ?? defaultSync)
                // Commits a killed predecessor left unsynced are readable, and would be delivered:
                // they are made durable first.
                try syncer.syncNow()
                self.syncer = syncer
            } else if try !pool.read({ db in try db.tableExists("events") }) {
                throw JournalError.missing(path: path)
            } else {
                checkpointer = nil
                syncer = nil
            }
        } catch let error as JournalError {
            throw error
        } catch let error as DatabaseError {
            throw Self.openError(path: path, error)
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// Brings the schema up to date. Upgrading a journal an older callrelay wrote can rewrite the
    /// events table (v6 copies it: about 6 s per million events, and free disk the size of the
    /// journal), so a daemon that seems stuck at start says why, and how long it took.
    private static func migrate(_ pool: DatabasePool, path: String, logger: Logger) throws {
        let migrator = JournalSchema.migrator()
        let (pending, unknown, events) = try pool.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            let pending = migrator.migrations.filter { !applied.contains($0) }
            let unknown = applied.subtracting(migrator.migrations).sorted()
            // Counting the rows would read the whole table; the sequences bound it without reading it.
            let events =
                try db.tableExists("events")
                ? try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq) - min(seq) + 1, 0) FROM events") ?? 0 : 0
            return (pending, unknown, events)
        }
        if !unknown.isEmpty {
            // A rolled-back release is not refused: v6 left a schema the versions before it can still
            // write, though v4 did not (it dropped a table they wrote to). If a commit fails, this
            // line says why.
            logger.warning(
                "the journal was upgraded by a newer callrelay; using it as it is, which may fail",
                metadata: ["path": "\(path)", "unknown_upgrades": "\(unknown.joined(separator: "; "))"])
        }
        // A new journal (nothing applied yet) is created, not upgraded.
        guard !pending.isEmpty, pending.count < migrator.migrations.count else {
            try migrator.migrate(pool)
            return
        }
        let metadata: Logger.Metadata = [
            "path": "\(path)", "upgrades": "\(pending.joined(separator: "; "))", "events_at_most": "\(events)",
        ]
        logger.notice("upgrading the journal written by an older callrelay; this can take minutes", metadata: metadata)
        let start = ContinuousClock.now
        try migrator.migrate(pool)
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        logger.notice(
            "upgraded the journal", metadata: metadata.merging(["seconds": "\(String(format: "%.1f", seconds))"]) { $1 })
    }

    private static func openError(path: String, _ error: DatabaseError) -> JournalError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_FORMAT:
            return .unreadable(path: path, reason: error.message ?? "\(error.resultCode)")
        default:
            return .cannotOpen(path: path, reason: error.message ?? "\(error)")
        }
    }

    /// Journals `events` in one transaction, dropping duplicates and adding correlated transfers, and
    /// returns once they are durable; `afterCommit` gets the committed entries first, on the
    /// journal's sync thread, in commit order.
    public func commit(
        _ events: [CallEvent],
        now: Date = Date(),
        afterCommit: @escaping @Sendable ([JournalEntry]) -> Void = { _ in }
    ) async throws(JournalError) -> CommitOutcome {
        let (outcome, ticket) = try await commitPipelined(events, now: now, afterCommit: afterCommit)
        try await syncer?.wait(for: ticket)
        return outcome
    }

    /// ``commit(_:now:afterCommit:)`` that returns once the transaction is committed, before it is
    /// durable, so that the writer can commit the next batch while the disk syncs this one.
    /// `afterCommit` still runs only once the events are durable. Waits while
    /// ``unsyncedCommits`` commits are not yet durable.
    func commitPipelined(
        _ events: [CallEvent],
        now: Date = Date(),
        afterCommit: @escaping @Sendable ([JournalEntry]) -> Void
    ) async throws(JournalError) -> (outcome: CommitOutcome, ticket: WALSyncer.Ticket) {
        guard let syncer else { throw .writeFailed(path: path, reason: "the journal was opened for reading") }
        // After a failed sync nothing more is committed: the disk's state is unknown.
        if let failure = syncer.failure { throw failure }
        try await syncer.waitForRoom(limit: Self.unsyncedCommits)
        let (deduplication, transfers) = (self.deduplication, self.transfers)
        let routes = self.routes
        let checkpointer = self.checkpointer
        do {
            return try await pool.writeWithoutTransaction { db in
                // The syncer syncs; set on every commit, as delivery outcomes and pruning set their own.
                try Self.setSynchronous(JournalOptions.Durability.normal.pragma, db)
                var outcome = CommitOutcome()
                var state = CommitState(now: now.timeIntervalSince1970, lastSequence: sequences.withLockedValue { $0 })
                do {
                    try db.inTransaction(.immediate) {
                        outcome = try Self.store(
                            events, deduplication: deduplication, transfers: transfers, state: &state, routes: routes, db: db)
                        return .commit
                    }
                } catch {
                    deduplication.rollBack(state.marks, now: state.now)
                    transfers.rollBack(state.connections, now: state.now)
                    throw error
                }
                sequences.withLockedValue { $0 = state.lastSequence }
                // The batch's marks and connections are in; what they pushed out of the window or
                // beyond the limits goes.
                deduplication.prune(now: state.now)
                transfers.prune(now: state.now)
                let committed = outcome.committed
                let ticket = syncer.committed(upTo: committed.last?.sequence ?? 0) { afterCommit(committed) }
                checkpointer?.written(on: db)
                return (outcome, ticket)
            }
        } catch {
            throw JournalError.writing(error, path: path)
        }
    }

    /// Waits until every commit so far is durable and its `afterCommit` has run.
    func waitUntilDurable() async throws(JournalError) {
        try await syncer?.waitForAll()
    }

    /// The newest sequence that is durable: what the webhook deliverer may read up to. Everything, in
    /// a journal opened for reading.
    var durableSequence: Int64 { syncer?.durableSequence ?? .max }

    /// What a commit's transaction changed in the in-memory state as it went, to be taken back if
    /// the transaction fails.
    private struct CommitState {
        let now: Double
        /// The sequence of the last row inserted, or handed out before.
        var lastSequence: Int64
        var marks = Deduplication.Batch()
        var connections = TransferCorrelation.Batch()
    }

    private static func store(
        _ events: [CallEvent], deduplication: Deduplication, transfers: TransferCorrelation, state: inout CommitState,
        routes: [String: [DeliveryRoute]], db: Database
    ) throws -> CommitOutcome {
        let now = state.now
        var outcome = CommitOutcome()
        let insert = try EventInsert(db)
        // Every committed event's JSON in one buffer, which the entries share once the loop is done.
        var lines = CallEventJSONLines(capacity: events.count * 1024)
        var stored: [(sequence: Int64, event: CallEvent, range: Range<Int>)] = []
        stored.reserveCapacity(events.count)
        // `lines` is a parameter rather than captured: a noncopyable value captured by a local function
        // could not be handed on to the entries afterwards.
        func append(_ event: CallEvent, to lines: inout CallEventJSONLines) throws -> Bool {
            if deduplication.isDuplicate(event.id, now: now, batch: &state.marks) {
                outcome.duplicates.append(event)
                return false
            }
            let sequence = state.lastSequence + 1
            let row = EventInsert.Row(
                sequence: sequence, id: event.id, tenant: event.data.tenant, type: event.type.rawValue,
                callId: event.data.callId, receivedAt: event.data.receivedAt.timeIntervalSince1970)
            let range = lines.append(event)
            try lines.withBytes(in: range) { body in try insert.execute(row, body: body) }
            state.lastSequence = sequence
            if let endpoints = routes[event.data.tenant] {
                try addDeliveries(sequence: sequence, event: event, routes: endpoints, now: now, db: db)
            }
            stored.append((sequence, event, range))
            return true
        }
        for event in events {
            guard try append(event, to: &lines) else { continue }
            if let transfer = transfers.transfer(after: event, now: now, batch: &state.connections) {
                _ = try append(transfer, to: &lines)
            }
        }
        let shared = JournalLines(lines)
        outcome.committed = stored.map { JournalEntry(sequence: $0.sequence, event: $0.event, lines: shared, range: $0.range) }
        return outcome
    }

    /// Forgets dedupe marks outside the window and events older than the retention.
    public func prune(now: Date = Date()) async throws(JournalError) {
        let deduplication = self.deduplication
        let cutoff = now.timeIntervalSince1970 - options.retention.seconds
        deduplication.prune(now: now.timeIntervalSince1970)
        transfers.prune(now: now.timeIntervalSince1970)
        try await write { db in
            // Old events are at the start of `seq`: find the first one to keep without an index.
            // An event still owed to a CRM (pending or dead) is kept whatever its age.
            let keep =
                try Int64.fetchOne(
                    db, sql: "SELECT seq FROM events WHERE received_at >= ? ORDER BY seq LIMIT 1", arguments: [cutoff])
                ?? Int64.max
            // The rows about to go may include the newest: their numbers must stay handed out.
            try db.execute(
                sql:
                    "UPDATE journal_counters SET value = max(value, (SELECT coalesce(max(seq), 0) FROM events)) WHERE name = 'last_sequence'"
            )
            // Everything below reads only the old rows, endpoint by endpoint through `deliveries_pending`
            // (endpoint, state, seq). Queries over every endpoint's deliveries at once read the whole
            // table or index: with 2 million delivered rows that held the writer for 0.4 s every minute,
            // and a week's retention at 100 events/s is 60 million.
            let endpoints = try Self.deliveryEndpoints(db)
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS prune_owed (seq INTEGER PRIMARY KEY); DELETE FROM prune_owed")
            let owed = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO prune_owed SELECT seq FROM deliveries INDEXED BY deliveries_pending
                    WHERE endpoint = ? AND state IN ('pending', 'dead') AND seq < ?
                    """)
            for endpoint in endpoints { try owed.execute(arguments: [endpoint, keep]) }
            try db.execute(
                sql: "DELETE FROM events WHERE seq < ? AND received_at < ? AND seq NOT IN (SELECT seq FROM prune_owed)",
                arguments: [keep, cutoff])
            // The deliveries of the events that went: delivered, old, and their event is not among the
            // old ones kept.
            let gone = try db.cachedStatement(
                sql: """
                    DELETE FROM deliveries INDEXED BY deliveries_pending
                    WHERE endpoint = ? AND state = 'delivered' AND seq < ? AND seq NOT IN (SELECT seq FROM events WHERE seq < ?)
                    """)
            for endpoint in endpoints { try gone.execute(arguments: [endpoint, keep, keep]) }
        }
    }

    /// Every endpoint with deliveries on record, one index seek each (`SELECT DISTINCT` would read
    /// every row): the configured ones and any a former configuration left.
    static func deliveryEndpoints(_ db: Database) throws -> [String] {
        var endpoints: [String] = []
        let next = try db.cachedStatement(sql: "SELECT endpoint FROM deliveries WHERE endpoint > ? ORDER BY endpoint LIMIT 1")
        while let endpoint = try String.fetchOne(next, arguments: [endpoints.last ?? ""]) {
            endpoints.append(endpoint)
        }
        return endpoints
    }

    /// Up to `limit` events after `sequence` that match `filter`, oldest first; with `newest`, the
    /// last `limit` of them (still oldest first). Safe while the daemon writes: WAL readers see a
    /// consistent snapshot and never block the writer.
    public func entries(
        after sequence: Int64, matching filter: JournalFilter = .init(), limit: Int = 1000, newest: Bool = false
    ) throws(JournalError)
        -> [(sequence: Int64, json: String)]
    {
        var sql = "SELECT seq, body FROM events WHERE seq > ?"
        var arguments: [(any DatabaseValueConvertible)?] = [sequence]
        if let tenant = filter.tenant {
            sql += " AND tenant = ?"
            arguments.append(tenant)
        }
        if !filter.types.isEmpty {
            sql += " AND type IN (\(filter.types.map { _ in "?" }.joined(separator: ",")))"
            arguments.append(contentsOf: filter.types.map { $0 as (any DatabaseValueConvertible)? })
        }
        if let callId = filter.callId {
            sql += " AND call_id = ?"
            arguments.append(callId)
        }
        if let since = filter.since {
            sql += " AND received_at >= ?"
            arguments.append(since)
        }
        sql += newest ? " ORDER BY seq DESC LIMIT ?" : " ORDER BY seq LIMIT ?"
        arguments.append(limit)
        let statementArguments = StatementArguments(arguments)
        let rows = try read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                (sequence: row[0] as Int64, json: row[1] as String)
            }
        }
        return newest ? rows.reversed() : rows
    }

    /// The sequence of the newest event, 0 when empty.
    public func lastSequence() throws(JournalError) -> Int64 {
        try read(Self.newestSequence)
    }

    /// The sequence of the newest event, 0 when empty; for tasks, which must not block on a read.
    public func newestSequence() async throws(JournalError) -> Int64 {
        try await read(Self.newestSequence)
    }

    private static let lastSequenceSQL = "SELECT value FROM journal_counters WHERE name = 'last_sequence'"

    private static func newestSequence(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0
    }

    /// How many dedupe marks are kept.
    var dedupeMarkCount: Int { deduplication.count }

    /// How many flows transfer correlation remembers.
    var transferFlowCount: Int { transfers.count }

    /// The database's page size in bytes.
    func pageSize() throws(JournalError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0 }
    }

    /// How many events are stored.
    public func count() throws(JournalError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        try await write(synchronous: options.durability.pragma, body)
    }

    /// Writes without waiting for the disk (`synchronous = NORMAL`): for delivery outcomes, whose
    /// loss on a power cut only means an event is posted again under the same `webhook-id`, which the
    /// delivery contract allows. An fsync for each would cap deliveries at the disk's sync rate and
    /// queue the events' own commits behind them. A crash of the process loses nothing either way.
    func writeUnsynced<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        try await write(synchronous: JournalOptions.Durability.normal.pragma, body)
    }

    /// Runs `body` on the writer without waiting for it, after the writes it already holds, with
    /// ``writeUnsynced(_:)``'s durability. `body` opens its own transaction and reports its own errors.
    func writeUnsynced(_ body: @escaping @Sendable (Database) -> Void) {
        let checkpointer = self.checkpointer
        pool.asyncWriteWithoutTransaction { db in
            // Cannot fail for a valid setting; if it did, the write would merely be synced.
            try? Self.setSynchronous(JournalOptions.Durability.normal.pragma, db)
            body(db)
            checkpointer?.written(on: db)
        }
    }

    /// The writer connection's `synchronous` setting, which commits and delivery outcomes set to what
    /// each needs. Cached: it runs for every commit.
    private static func setSynchronous(_ value: String, _ db: Database) throws {
        try db.cachedStatement(sql: "PRAGMA synchronous = \(value)").execute()
    }

    private func write<T: Sendable>(
        synchronous: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(JournalError) -> T {
        let checkpointer = self.checkpointer
        do {
            return try await pool.writeWithoutTransaction { db in
                defer { checkpointer?.written(on: db) }
                try Self.setSynchronous(synchronous, db)
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try body(db)
                    return .commit
                }
                guard let value else { throw DatabaseError(message: "the transaction returned nothing") }
                return value
            }
        } catch {
            throw .writeFailed(path: path, reason: JournalError.reason(error))
        }
    }

    /// Reads on GRDB's reader queue, for callers on the cooperative pool that must not block it.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw .readFailed(path: path, reason: JournalError.reason(error))
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(JournalError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw .readFailed(path: path, reason: JournalError.reason(error))
        }
    }
}
