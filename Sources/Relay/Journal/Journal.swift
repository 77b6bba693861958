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
    let pool: DatabasePool
    /// Nil for a reader (`create: false`), which never writes.
    let checkpointer: Checkpointer?
    /// Makes commits durable and runs their sinks; nil for a reader.
    let syncer: WALSyncer?
    /// How many commits may wait for a sync: the writer commits the next batch while the last one
    /// syncs, and then waits. More let a moderate load split into more and smaller commits, each a
    /// page written to the log and synced, for no more throughput under full load.
    static let unsyncedCommits = 2
    let deduplication: Deduplication
    let transfers: TransferCorrelation
    /// Webhook endpoints by tenant.
    let routes: [String: [DeliveryRoute]]
    /// The highest sequence handed out (schema v6): each commit numbers its rows on from here.
    /// Changed only by the writer, after its transaction committed. At open it is the larger of the
    /// newest row and the `last_sequence` counter, which pruning raises to the newest row before it
    /// deletes any: only pruning removes rows, so no number is handed out twice, and a commit writes
    /// no counter (below full load each commit holds one event, and a second page per commit
    /// doubled what went to the write-ahead log).
    let sequences = NIOLockedValueBox<Int64>(0)
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
            // whole, about ten with a webhook: small pages keep that small (docs/journal.md).
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
    static func migrate(_ pool: DatabasePool, path: String, logger: Logger) throws {
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

    static func openError(path: String, _ error: DatabaseError) -> JournalError {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT, .SQLITE_FORMAT:
            return .unreadable(path: path, reason: error.message ?? "\(error.resultCode)")
        default:
            return .cannotOpen(path: path, reason: error.message ?? "\(error)")
        }
    }

}
