import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The open-file limit a relay needs and the one it has. Each tenant holds one socket and, while it
/// logs in, a REST connection; the journal, the log stream and the webhook clients need a few
/// dozen more. The default soft limit of many systems (1,024) ends a relay near 500 tenants with
/// `EMFILE` on reconnects, which would look like a flaky PBX.
public struct FileDescriptorLimit: Sendable, Equatable {
    /// The soft limit (what `open` and `accept` hit) and the hard one (the most it can be raised to).
    public var soft: UInt64
    public var hard: UInt64

    /// Descriptors a relay with `tenants` tenants and `endpoints` webhook endpoints needs: two per
    /// tenant, eight per endpoint (the HTTP client's connections), and 128 for the rest.
    public static func needed(tenants: Int, endpoints: Int) -> UInt64 {
        UInt64(max(0, tenants)) * 2 + UInt64(max(0, endpoints)) * 8 + 128
    }

    /// The process's limit now, or nil where it cannot be read.
    public static func current() -> FileDescriptorLimit? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        return FileDescriptorLimit(soft: UInt64(limit.rlim_cur), hard: UInt64(limit.rlim_max))
    }

    /// Raises the soft limit to `needed` (never past the hard limit, never lowered) and returns the
    /// limit in effect afterwards: raising the soft limit needs no privilege.
    @discardableResult
    public static func raise(to needed: UInt64) -> FileDescriptorLimit? {
        guard let now = current() else { return nil }
        guard now.soft < needed else { return now }
        var limit = rlimit()
        limit.rlim_cur = rlim_t(min(needed, now.hard))
        limit.rlim_max = rlim_t(now.hard)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return current()
    }
}
