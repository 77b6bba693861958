/// How long the journal keeps what, and how hard it pushes events to the disk.
public struct JournalOptions: Sendable, Equatable {
    public enum Durability: String, Sendable, Equatable, CaseIterable {
        /// fsync at every commit (a commit holds a batch of events): nothing committed is lost even on
        /// power loss.
        case full
        /// fsync at WAL checkpoints only: committed events survive a crash of the process, not of the
        /// machine.
        case normal

        /// SQLite's `synchronous` setting for it (in WAL mode).
        var pragma: String { self == .full ? "FULL" : "NORMAL" }
    }

    /// Events older than this are pruned.
    public var retention: Duration
    /// A repeat inside this window is a duplicate.
    public var dedupeWindow: Duration
    /// The most dedupe marks kept, whatever their age.
    public var dedupeMaxEntries: Int
    /// How long after a party's connection a new connection of its flow to someone else is still
    /// named a transfer.
    public var transferWindow: Duration
    /// The most flows transfer correlation remembers, whatever their age.
    public var transferMaxEntries: Int
    public var durability: Durability
    /// The most events committed in one transaction.
    public var maxBatch: Int
    /// The least time between two background checkpoints of the write-ahead log while it is written.
    public var checkpointInterval: Duration

    public init(
        retention: Duration = .seconds(7 * 24 * 3600),
        dedupeWindow: Duration = .seconds(600),
        dedupeMaxEntries: Int = 1_000_000,
        transferWindow: Duration = .seconds(12 * 3600),
        transferMaxEntries: Int = 100_000,
        durability: Durability = .full,
        maxBatch: Int = 2_000,
        checkpointInterval: Duration = .seconds(1)
    ) {
        self.checkpointInterval = checkpointInterval
        self.retention = retention
        self.dedupeWindow = dedupeWindow
        self.dedupeMaxEntries = dedupeMaxEntries
        self.transferWindow = transferWindow
        self.transferMaxEntries = transferMaxEntries
        self.durability = durability
        self.maxBatch = maxBatch
    }
}
