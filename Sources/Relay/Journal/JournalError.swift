import GRDB

/// Why the journal could not be opened, written or read; each with what to do about it.
///
/// A struct rather than an enum, so that a new kind of failure is not a breaking change: match on
/// ``code`` (`error.code == .syncFailed`).
public struct JournalError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case unreadable, cannotOpen, writeFailed, refused, readFailed, syncFailed, missing
        }

        let base: Base

        /// The file exists but is not a usable SQLite database. It is never replaced silently.
        public static let unreadable = Code(base: .unreadable)
        /// The directory or file cannot be created or opened.
        public static let cannotOpen = Code(base: .cannotOpen)
        /// A write failed (disk full, I/O error).
        public static let writeFailed = Code(base: .writeFailed)
        /// The journal refused what was written (a constraint, a value too big): the same events would
        /// fail again, so they are set aside rather than retried.
        public static let refused = Code(base: .refused)
        /// A read failed.
        public static let readFailed = Code(base: .readFailed)
        /// The disk refused to make committed events durable (`fdatasync` failed). Final: see
        /// `WALSyncer` for why a retry cannot be trusted.
        public static let syncFailed = Code(base: .syncFailed)
        /// `tail` and `deliveries` need a journal that the daemon has created.
        public static let missing = Code(base: .missing)

        public var description: String { base.rawValue }
    }

    enum Base: Sendable {
        case unreadable(path: String, reason: String)
        case cannotOpen(path: String, reason: String)
        case writeFailed(path: String, reason: String)
        case refused(path: String, reason: String)
        case readFailed(path: String, reason: String)
        case syncFailed(path: String, reason: String)
        case missing(path: String)
    }

    let base: Base

    init(_ base: Base) { self.base = base }

    static func unreadable(path: String, reason: String) -> Self { .init(.unreadable(path: path, reason: reason)) }
    static func cannotOpen(path: String, reason: String) -> Self { .init(.cannotOpen(path: path, reason: reason)) }
    static func writeFailed(path: String, reason: String) -> Self { .init(.writeFailed(path: path, reason: reason)) }
    static func refused(path: String, reason: String) -> Self { .init(.refused(path: path, reason: reason)) }
    static func readFailed(path: String, reason: String) -> Self { .init(.readFailed(path: path, reason: reason)) }
    static func syncFailed(path: String, reason: String) -> Self { .init(.syncFailed(path: path, reason: reason)) }
    static func missing(path: String) -> Self { .init(.missing(path: path)) }

    /// The kind of failure.
    public var code: Code {
        switch base {
        case .unreadable: .unreadable
        case .cannotOpen: .cannotOpen
        case .writeFailed: .writeFailed
        case .refused: .refused
        case .readFailed: .readFailed
        case .syncFailed: .syncFailed
        case .missing: .missing
        }
    }

    /// The journal's file.
    public var path: String {
        switch base {
        case .unreadable(let path, _), .cannotOpen(let path, _), .writeFailed(let path, _), .refused(let path, _),
            .readFailed(let path, _), .syncFailed(let path, _), .missing(let path):
            path
        }
    }

    /// What went wrong, as SQLite or the system said it.
    public var reason: String? {
        switch base {
        case .unreadable(_, let reason), .cannotOpen(_, let reason), .writeFailed(_, let reason), .refused(_, let reason),
            .readFailed(_, let reason), .syncFailed(_, let reason):
            reason
        case .missing: nil
        }
    }

    public var description: String {
        switch base {
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
