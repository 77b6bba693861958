import GRDB

/// Why the journal could not be opened, written or read; each with what to do about it.
public enum JournalError: Error, Sendable, CustomStringConvertible {
    /// The file exists but is not a usable SQLite database. It is never replaced silently.
    case unreadable(path: String, reason: String)
    /// The directory or file cannot be created or opened.
    case cannotOpen(path: String, reason: String)
    /// A write failed (disk full, I/O error).
    case writeFailed(path: String, reason: String)
    /// SQLite refused what was written (a constraint, a value too big): the same events would fail
    /// again, so they are set aside rather than retried.
    case refused(path: String, reason: String)
    case readFailed(path: String, reason: String)
    /// The disk refused to make committed events durable (`fdatasync` failed). Final: see
    /// `WALSyncer` for why a retry cannot be trusted.
    case syncFailed(path: String, reason: String)
    /// `tail` and `deliveries` need a journal that the daemon has created.
    case missing(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return
                "the journal \(path) is not a readable SQLite database (\(reason)); callrelay will not replace it. "
                + "Move it aside to start a new journal, or recover its events with `sqlite3 \(path) .recover`."
        case .cannotOpen(let path, let reason): return "cannot open the journal \(path): \(reason)"
        case .writeFailed(let path, let reason): return "cannot write to the journal \(path): \(reason)"
        case .refused(let path, let reason): return "the journal \(path) refused the events: \(reason)"
        case .readFailed(let path, let reason): return "cannot read the journal \(path): \(reason)"
        case .syncFailed(let path, let reason):
            return
                "cannot make the journal \(path) durable (fsync failed: \(reason)); events committed since the last "
                + "successful sync may not be on the disk. Stopping: check the disk, then start callrelay again, "
                + "which carries on from what the disk holds."
        case .missing(let path): return "no journal at \(path): has `callrelay run` used this data_dir yet?"
        }
    }

    /// A failed write as the error it is: refused for what it holds, or failed for the disk's sake.
    static func writing(_ error: any Error, path: String) -> JournalError {
        if let error = error as? DatabaseError,
            [.SQLITE_CONSTRAINT, .SQLITE_TOOBIG, .SQLITE_MISMATCH, .SQLITE_RANGE].contains(error.resultCode)
        {
            return .refused(path: path, reason: reason(error))
        }
        return .writeFailed(path: path, reason: reason(error))
    }

    /// SQLite's own message when there is one.
    static func reason(_ error: any Error) -> String {
        (error as? DatabaseError)?.message ?? "\(error)"
    }
}
