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

    /// True when `id` was seen within the window; otherwise marks it seen at `now`. One statement:
    /// the upsert changes no row exactly when a mark inside the window exists.
    func isDuplicate(_ id: String, now: Double, db: Database) throws -> Bool {
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO seen (id, seen_at) VALUES (?, ?)
                ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at WHERE seen.seen_at <= ?
                """)
        try upsert.execute(arguments: [id, now, now - window])
        return db.changesCount == 0
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
