import Foundation

/// A window in which the PBX may have sent events we never saw: from the last event before a drop
/// to the resubscription after it. The PBX does not replay, so these are the minutes to reconcile.
///
/// A gap with no `end` is open: the relay stopped while it lasted (or stopped the tenant's stream by
/// stopping), and the next start records it again with its end.
public struct Gap: Codable, Sendable, Equatable {
    public var tenant: String
    public var start: Date
    public var end: Date?
    public var cause: String

    public init(tenant: String, start: Date, end: Date?, cause: String) {
        self.tenant = tenant
        self.start = start
        self.end = end
        self.cause = cause
    }

    /// Up to `now` for an open gap.
    public func duration(now: Date = Date()) -> TimeInterval { (end ?? now).timeIntervalSince(start) }

    /// Leaves out each open gap that a later record of the same tenant closed (same start, to the
    /// second the file keeps).
    public static func merged(_ gaps: [Gap]) -> [Gap] {
        struct Key: Hashable {
            var tenant: String
            var second: Double
        }
        var closed = Set<Key>()
        var result: [Gap] = []
        result.reserveCapacity(gaps.count)
        for gap in gaps.reversed() {
            let key = Key(tenant: gap.tenant, second: gap.start.timeIntervalSince1970.rounded(.down))
            if gap.end != nil {
                closed.insert(key)
            } else if closed.contains(key) {
                continue
            }
            result.append(gap)
        }
        return result.reversed()
    }
}
