import NIOCore

/// A table whose entries expire oldest first, by age and by count: the dedupe marks and the
/// connections transfer correlation remembers. Not thread-safe by itself; its owner locks it.
struct ExpiringTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Each key's value and when it was last set.
    private(set) var entries: [Key: (value: Value, at: Double)] = [:]
    /// Keys in the order they were set; an entry whose time no longer matches `entries` was set again
    /// later and is skipped.
    private var order = CircularBuffer<(key: Key, at: Double)>()

    var count: Int { entries.count }

    /// Sets `key`, which becomes the newest entry. Times must not go backwards by more than the
    /// caller's tolerance for keeping an entry a little too long.
    mutating func set(_ key: Key, _ value: Value, at time: Double) {
        entries[key] = (value, time)
        order.append((key, time))
    }

    /// Sets `key` at `time` unless it was set after `cutoff`; returns whether it set it. One hash
    /// for both the lookup and the insert.
    mutating func insert(_ key: Key, _ value: Value, at time: Double, unlessSetAfter cutoff: Double) -> Bool {
        var inserted = false
        func update(_ entry: inout (value: Value, at: Double)) {
            guard entry.at <= cutoff else { return }
            entry = (value, time)
            inserted = true
        }
        update(&entries[key, default: (value, -.infinity)])
        if inserted { order.append((key, time)) }
        return inserted
    }

    /// Sets `key` at `time` and returns what it held before, with one hash for both.
    mutating func exchange(_ key: Key, _ value: Value, at time: Double) -> (value: Value, at: Double)? {
        order.append((key, time))
        return entries.updateValue((value, time), forKey: key)
    }

    /// Puts back what ``exchange(_:_:at:)`` at `time` replaced, if `key` still holds what it set.
    mutating func restore(_ key: Key, _ previous: (value: Value, at: Double)?, replacedAt time: Double) {
        guard let index = entries.index(forKey: key), entries[index].value.at == time else { return }
        if let previous {
            entries.values[index] = previous
        } else {
            entries.remove(at: index)
        }
    }

    /// Drops the oldest entries until at most `limit` remain and none is older than `cutoff`.
    mutating func trim(limit: Int, olderThan cutoff: Double) {
        while let oldest = order.first, oldest.at < cutoff || entries.count > limit {
            order.removeFirst()
            // One hash of the key, not two.
            if let index = entries.index(forKey: oldest.key), entries[index].value.at == oldest.at {
                entries.remove(at: index)
            }
        }
        // Keys set again leave stale entries behind; compact once they outnumber the live ones.
        if order.count > 2 * max(entries.count, 1024) {
            order = CircularBuffer(order.filter { entries[$0.key]?.at == $0.at })
        }
    }
}
