import NIOConcurrencyHelpers

/// An ``ExpiringTable`` behind a lock, whose entries count only within `window` and number at most
/// `maxEntries`: the in-memory state that the journal's transforms keep beside it (dedupe marks,
/// transfer correlation's connections), read back from the journal at start.
final class WindowedTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let window: Double
    let maxEntries: Int
    private let table = NIOLockedValueBox(ExpiringTable<Key, Value>())

    init(window: Double, maxEntries: Int) {
        self.window = window
        self.maxEntries = maxEntries
    }

    var count: Int { table.withLockedValue { $0.count } }

    /// Sets `key` at `now` unless it is set within the window; returns whether it set it.
    func insert(_ key: Key, _ value: Value, now: Double) -> Bool {
        table.withLockedValue { $0.insert(key, value, at: now, unlessSetAfter: now - window) }
    }

    /// Takes back what ``insert(_:_:now:)`` set at `time` for `keys`.
    func remove(_ keys: some Sequence<Key>, setAt time: Double) {
        table.withLockedValue { table in
            for key in keys { table.restore(key, nil, replacedAt: time) }
        }
    }

    /// Sets `key` at `now` and returns what it held before, whatever its age.
    func exchange(_ key: Key, _ value: Value, now: Double) -> (value: Value, at: Double)? {
        table.withLockedValue { $0.exchange(key, value, at: now) }
    }

    /// Takes back what ``exchange(_:_:now:)`` at `time` set, latest first.
    func restore(_ replaced: some Sequence<(key: Key, previous: (value: Value, at: Double)?)>, replacedAt time: Double) {
        table.withLockedValue { table in
            for (key, previous) in replaced { table.restore(key, previous, replacedAt: time) }
        }
    }

    /// Forgets entries outside the window and the oldest beyond `maxEntries`.
    func prune(now: Double) {
        table.withLockedValue { $0.trim(limit: maxEntries, olderThan: now - window) }
    }

    /// Replaces every entry with `entries` (oldest first, each with its own time), as read back at start.
    func replace(with entries: some Sequence<(key: Key, value: Value, at: Double)>, now: Double) {
        var fresh = ExpiringTable<Key, Value>()
        for entry in entries { fresh.set(entry.key, entry.value, at: entry.at) }
        fresh.trim(limit: maxEntries, olderThan: now - window)
        table.withLockedValue { $0 = fresh }
    }
}
