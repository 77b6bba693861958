import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers

extension Journal {
    /// Forgets dedupe marks outside the window and events older than the retention.
    public func prune(now: Date = Date()) async throws(JournalError) {
        let deduplication = self.deduplication
        let cutoff = now.timeIntervalSince1970 - options.retention.seconds
        deduplication.prune(now: now.timeIntervalSince1970)
        transfers.prune(now: now.timeIntervalSince1970)
        try await write { db in
            // Old events are at the start of `seq`: find the first one to keep without an index.
            // An event still owed to a CRM (pending or dead) is kept whatever its age.
            let keep =
                try Int64.fetchOne(
                    db, sql: "SELECT seq FROM events WHERE received_at >= ? ORDER BY seq LIMIT 1", arguments: [cutoff])
                ?? Int64.max
            // The rows about to go may include the newest: their numbers must stay handed out.
            try db.execute(
                sql:
                    "UPDATE journal_counters SET value = max(value, (SELECT coalesce(max(seq), 0) FROM events)) WHERE name = 'last_sequence'"
            )
            // Everything below reads only the old rows, endpoint by endpoint through `deliveries_pending`
            // (endpoint, state, seq). Queries over every endpoint's deliveries at once read the whole
            // table or index: with 2 million delivered rows that held the writer for 0.4 s every minute,
            // and a week's retention at 100 events/s is 60 million.
            let endpoints = try Self.deliveryEndpoints(db)
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS prune_owed (seq INTEGER PRIMARY KEY); DELETE FROM prune_owed")
            let owed = try db.cachedStatement(
                sql: """
                    INSERT OR IGNORE INTO prune_owed SELECT seq FROM deliveries INDEXED BY deliveries_pending
                    WHERE endpoint = ? AND state IN ('pending', 'dead') AND seq < ?
                    """)
            for endpoint in endpoints { try owed.execute(arguments: [endpoint, keep]) }
            try db.execute(
                sql: "DELETE FROM events WHERE seq < ? AND received_at < ? AND seq NOT IN (SELECT seq FROM prune_owed)",
                arguments: [keep, cutoff])
            // The deliveries of the events that went: delivered, old, and their event is not among the
            // old ones kept.
            let gone = try db.cachedStatement(
                sql: """
                    DELETE FROM deliveries INDEXED BY deliveries_pending
                    WHERE endpoint = ? AND state = 'delivered' AND seq < ? AND seq NOT IN (SELECT seq FROM events WHERE seq < ?)
                    """)
            for endpoint in endpoints { try gone.execute(arguments: [endpoint, keep, keep]) }
        }
    }

    /// Every endpoint with deliveries on record, one index seek each (`SELECT DISTINCT` would read
    /// every row): the configured ones and any a former configuration left.
    static func deliveryEndpoints(_ db: Database) throws -> [String] {
        var endpoints: [String] = []
        let next = try db.cachedStatement(sql: "SELECT endpoint FROM deliveries WHERE endpoint > ? ORDER BY endpoint LIMIT 1")
        while let endpoint = try String.fetchOne(next, arguments: [endpoints.last ?? ""]) {
            endpoints.append(endpoint)
        }
        return endpoints
    }
}
