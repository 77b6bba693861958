import CallEvents
import CallRelayCore
import Crypto
import Foundation
import GRDB
import Xelion

/// The dedupe marks: which event ids were journaled within the window.
///
/// The key is the event's stable id (see `EventIdentity`): for hangups the tenant, type, call and both
/// flow ids, never the call id alone; for other types the whole notification too.
///
/// The marks live in memory and the journal's events table is their durable form: an event is its own
/// mark, committed in the same row, so a crash can never leave one without the other. At start the
/// marks are read back from the newest events; an in-memory check instead of a table of marks saves
/// two random-key B-tree writes per event.
///
/// A commit's new marks join the others as it checks them, with one hash per event, and are
/// listed in its ``Batch``: a rolled-back commit takes them back (``rollBack(_:now:)``), so it
/// leaves no mark behind.
///
/// Memory: about 70 bytes a mark, bounded by `maxEntries` and by the window (events per second
/// times the window's seconds).
final class Deduplication: Sendable {
    /// The ids journaled, with when.
    private let marks: WindowedTable<Key, Void>
    var window: Double { marks.window }

    /// The 128 bits of an `evt_` id, or a hash of any other id.
    struct Key: Hashable, Sendable {
        var high: UInt64
        var low: UInt64

        init(_ id: String) {
            if let parsed = Self.parse(id) {
                self = parsed
            } else {
                // Stable across restarts (the marks are read back), unlike `Hasher`.
                let digest = Array(SHA256.hash(data: Array(id.utf8)))
                self.init(high: Self.word(digest[0..<8]), low: Self.word(digest[8..<16]))
            }
        }

        private init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        /// The bits are SHA-256's already: hashing half of them spreads the keys as well as all.
        func hash(into hasher: inout Hasher) {
            hasher.combine(low)
        }

        private static func word(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// `evt_` and 32 lowercase hex digits, as `EventIdentity` writes them.
        private static func parse(_ id: String) -> Key? {
            id.withUTF8Bytes { bytes -> Key? in
                guard bytes.count == 36, bytes[0] == UInt8(ascii: "e"), bytes[1] == UInt8(ascii: "v"),
                    bytes[2] == UInt8(ascii: "t"), bytes[3] == UInt8(ascii: "_")
                else { return nil }
                var high: UInt64 = 0
                var low: UInt64 = 0
                for index in 4..<36 {
                    let byte = bytes[index]
                    let digit: UInt64
                    switch byte {
                    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte &- UInt8(ascii: "0"))
                    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte &- UInt8(ascii: "a") &+ 10)
                    default: return nil
                    }
                    if index < 20 { high = high << 4 | digit } else { low = low << 4 | digit }
                }
                return Key(high: high, low: low)
            }
        }
    }

    /// The marks a commit set (all at the commit's time), to take back if it fails.
    struct Batch {
        fileprivate var added: [Key] = []
    }

    init(window: Double, maxEntries: Int) {
        marks = WindowedTable(window: window, maxEntries: maxEntries)
    }

    var count: Int { marks.count }

    /// True when `id` was journaled within the window before `now`, by an earlier commit or earlier
    /// in `batch`; otherwise marks it, as part of `batch`.
    func isDuplicate(_ id: String, now: Double, batch: inout Batch) -> Bool {
        let key = Key(id)
        guard marks.insert(key, (), now: now) else { return true }
        batch.added.append(key)
        return false
    }

    /// The batch's transaction failed: its marks are taken back, so that the retry is no duplicate.
    func rollBack(_ batch: Batch, now: Double) {
        marks.remove(batch.added, setAt: now)
    }

    /// Forgets marks outside the window and the oldest beyond `maxEntries`.
    func prune(now: Double) {
        marks.prune(now: now)
    }

    /// Reads the marks back from the newest events, as a restart needs them. Events are read newest
    /// first until one is older than the window (with a minute's margin, as `received_at` is only
    /// roughly in commit order across tenants) or `maxEntries` are found.
    func load(from db: Database, now: Double) throws {
        let cutoff = now - window
        var found: [(key: Key, at: Double)] = []
        var keys = Set<Key>()
        let rows = try Row.fetchCursor(db, sql: "SELECT id, received_at FROM events ORDER BY seq DESC")
        while let row = try rows.next() {
            let at: Double = row[1]
            if at < cutoff - 60 || keys.count >= marks.maxEntries { break }
            let key = Key(row[0] as String)
            // The newest event of an id is its mark.
            if at >= cutoff, keys.insert(key).inserted { found.append((key, at)) }
        }
        marks.replace(with: found.reversed().lazy.map { (key: $0.key, value: (), at: $0.at) }, now: now)
    }
}
