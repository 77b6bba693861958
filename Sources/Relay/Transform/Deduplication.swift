import CallEvents
import Foundation
import GRDB

/// The dedupe marks, in the journal's own transaction: an event and its mark are committed together,
/// so a crash can never leave one without the other.
///
/// The key is the event's stable id (see `EventIdentity`): for hangups the tenant, type, call and both
/// flow ids, never the call id alone; for other types the whole notification too.
struct Deduplication {
    let window: Double
    let maxEntries: Int

    /// True when `id` was seen within the window; otherwise marks it seen at `now`.
    func isDuplicate(_ id: String, now: Double, db: Database) throws -> Bool {
        if let seenAt = try Double.fetchOne(
            db.cachedStatement(sql: "SELECT seen_at FROM seen WHERE id = ?"), arguments: [id]),
            now - seenAt < window
        {
            return true
        }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO seen (id, seen_at) VALUES (?, ?)").execute(arguments: [id, now])
        return false
    }

    /// Forgets marks older than the window, then the oldest beyond `maxEntries`.
    func prune(now: Double, db: Database) throws {
        try db.execute(sql: "DELETE FROM seen WHERE seen_at < ?", arguments: [now - window])
        let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM seen") ?? 0
        if count > maxEntries {
            try db.execute(
                sql: "DELETE FROM seen WHERE id IN (SELECT id FROM seen ORDER BY seen_at LIMIT ?)",
                arguments: [count - maxEntries])
        }
    }
}
