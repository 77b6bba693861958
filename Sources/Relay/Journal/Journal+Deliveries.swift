import CallEvents
import Foundation
import GRDB
import NIOConcurrencyHelpers

extension Journal {
    static func addDeliveries(
        sequence: Int64, event: CallEvent, routes: [DeliveryRoute], now: Double, db: Database
    ) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO deliveries (endpoint, seq, call_key, next_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        for route in routes where route.wants(event) {
            try insert.execute(arguments: [route.endpoint, sequence, event.data.callId, now, now])
        }
    }

    /// Up to `limit` deliveries of `endpoint` that are due, oldest first, each the first pending
    /// delivery of its call (events of one call reach an endpoint in order), leaving out the calls in
    /// `busyCalls` (being delivered) and the deliveries behind a dead letter of their call, which
    /// wait until it is retried or dropped.
    public func dueDeliveries(
        endpoint: String, now: Date = Date(), limit: Int, busyCalls: Set<String>
    ) async throws(JournalError)
        -> [PendingDelivery]
    {
        // The indexes are named: without statistics SQLite walks the primary key instead, reading
        // every delivery the endpoint ever had for each candidate, which grows with the square of
        // the backlog.
        let sql = """
            SELECT d.seq, d.call_key, d.attempts, e.body, e.id, d.next_at
            FROM deliveries d INDEXED BY deliveries_pending JOIN events e ON e.seq = d.seq
            WHERE d.endpoint = ? AND d.state = 'pending' AND d.next_at <= ? AND d.seq <= ?
              AND NOT EXISTS (
                SELECT 1 FROM deliveries p INDEXED BY deliveries_call
                WHERE p.endpoint = d.endpoint AND p.call_key = d.call_key AND p.state = 'pending' AND p.seq < d.seq)
              AND NOT EXISTS (
                SELECT 1 FROM deliveries x INDEXED BY deliveries_dead
                WHERE x.endpoint = d.endpoint AND x.call_key = d.call_key AND x.state = 'dead' AND x.seq < d.seq)
            ORDER BY d.seq LIMIT ?
            """
        // A busy call shows at most its first delivery here, so `busyCalls.count` extra rows are enough.
        // Only durable events: a committed one whose sync is under way is posted once it is synced.
        let durable = durableSequence
        let rows = try await read { db in
            // Cached: preparing a statement (parsing and GRDB's authorizer) cost more than running it.
            try Row.fetchAll(
                db.cachedStatement(sql: sql),
                arguments: [endpoint, now.timeIntervalSince1970, durable, limit + busyCalls.count]
            )
            .map(Self.pendingDelivery)
        }
        return Array(rows.filter { !busyCalls.contains($0.callKey) }.prefix(limit))
    }

    /// The deliveries of the same call that follow `sequence`, pending, in order, up to `limit` and
    /// up to the first that is not due. Unlike ``dueDeliveries(endpoint:now:limit:busyCalls:)`` it does
    /// not need the earlier deliveries to be recorded yet, so a call's events go out back to back, and
    /// a chain reads its call's backlog a batch at a time rather than once per event.
    public func nextDeliveries(
        endpoint: String, callKey: String, after sequence: Int64, now: Date = Date(), limit: Int
    ) async throws(JournalError) -> [PendingDelivery] {
        let sql = """
            SELECT d.seq, d.call_key, d.attempts, e.body, e.id, d.next_at
            FROM deliveries d INDEXED BY deliveries_call JOIN events e ON e.seq = d.seq
            WHERE d.endpoint = ? AND d.call_key = ? AND d.state = 'pending' AND d.seq > ? AND d.seq <= ?
            ORDER BY d.seq LIMIT ?
            """
        let durable = durableSequence
        let rows = try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: sql), arguments: [endpoint, callKey, sequence, durable, max(1, limit)]
            )
            .map(Self.pendingDelivery)
        }
        // A delivery waiting for its retry holds back the call's later ones.
        return Array(rows.prefix { $0.nextAt.timeIntervalSince1970 <= now.timeIntervalSince1970 })
    }

    /// Up to `limit` calls with a delivery to `endpoint` pending (due or not) or dead, and up to
    /// `limit` more.
    public func pendingCalls(endpoint: String, limit: Int) async throws(JournalError) -> Set<String> {
        try await read { db in
            Set(
                try String.fetchAll(
                    db,
                    sql: """
                        SELECT DISTINCT call_key FROM deliveries INDEXED BY deliveries_call
                        WHERE endpoint = ? AND state = 'pending' LIMIT ?
                        """,
                    arguments: [endpoint, limit])
                    + String.fetchAll(
                        db,
                        sql: """
                            SELECT DISTINCT call_key FROM deliveries INDEXED BY deliveries_dead
                            WHERE endpoint = ? AND state = 'dead' LIMIT ?
                            """,
                        arguments: [endpoint, limit]))
        }
    }

    /// The error of the newest failed attempt among the endpoint's pending deliveries, if any: at
    /// start it tells whether the endpoint was down when the relay stopped.
    public func lastFailure(endpoint: String) async throws(JournalError) -> String? {
        try await read { db in
            try String.fetchOne(
                db,
                sql: """
                    SELECT last_error FROM deliveries INDEXED BY deliveries_pending
                    WHERE endpoint = ? AND state = 'pending' AND attempts > 0 AND last_error IS NOT NULL
                    ORDER BY updated_at DESC LIMIT 1
                    """,
                arguments: [endpoint])
        }
    }

    /// Whether the call has any delivery to `endpoint` pending (due or not) or dead: either way its
    /// next event must not be delivered from memory, ahead of it.
    public func hasPending(endpoint: String, callKey: String) async throws(JournalError) -> Bool {
        try await read { db in
            try Bool.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_call
                        WHERE endpoint = ? AND call_key = ? AND state = 'pending')
                        OR EXISTS (SELECT 1 FROM deliveries INDEXED BY deliveries_dead
                        WHERE endpoint = ? AND call_key = ? AND state = 'dead')
                        """),
                arguments: [endpoint, callKey, endpoint, callKey]) ?? true
        }
    }

    private static func pendingDelivery(_ row: Row) -> PendingDelivery {
        PendingDelivery(
            sequence: row[0], callKey: row[1], attempts: row[2], json: row[3], eventId: row[4],
            nextAt: Date(timeIntervalSince1970: row[5]))
    }

    /// When the next pending delivery of `endpoint` that is not due yet becomes due, if any. (Due
    /// ones that ``dueDeliveries(endpoint:now:limit:busyCalls:)`` did not return wait for a call in
    /// flight, whose end wakes the deliverer anyway.)
    public func nextDue(endpoint: String, now: Date = Date()) async throws(JournalError) -> Date? {
        try await read { db in
            try Double.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT min(next_at) FROM deliveries INDEXED BY deliveries_next
                        WHERE endpoint = ? AND state = 'pending' AND next_at > ?
                        """),
                arguments: [endpoint, now.timeIntervalSince1970])
        }.map { Date(timeIntervalSince1970: $0) }
    }

    /// Records a 2xx without waiting for the write, which the journal's writer applies after the
    /// writes it already holds; ``waitUntilRecorded(_:)`` waits for it. Successes that arrive while the
    /// writer is busy (with an events commit and its fsync) are recorded together in one transaction.
    /// `onError` gets a failed write (the event is then posted again, under the same id).
    @discardableResult
    public func recordDelivered(
        endpoint: String, sequence: Int64, attempts: Int, onError: @escaping @Sendable (JournalError) -> Void
    ) -> DeliveredMarkTicket {
        let mark = DeliveredMark(endpoint: endpoint, sequence: sequence, attempts: attempts, onError: onError)
        let (schedule, ticket) = deliveredMarks.withLockedValue { buffer in
            buffer.marks.append(mark)
            buffer.recorded += 1
            defer { buffer.flushScheduled = true }
            return (!buffer.flushScheduled, DeliveredMarkTicket(count: buffer.recorded))
        }
        guard schedule else { return ticket }
        let buffer = deliveredMarks
        let path = self.path
        writeUnsynced { db in
            // Taken when the writer gets here, so that everything that came meanwhile goes along.
            let marks = buffer.withLockedValue { buffer in
                defer {
                    buffer.marks = []
                    buffer.flushScheduled = false
                }
                return buffer.marks
            }
            do {
                try db.inTransaction(.immediate) {
                    for mark in marks {
                        try Self.markDelivered(endpoint: mark.endpoint, sequence: mark.sequence, attempts: mark.attempts, db: db)
                    }
                    return .commit
                }
            } catch {
                let failure = JournalError.writeFailed(path: path, reason: JournalError.reason(error))
                for mark in marks { mark.onError(failure) }
            }
            let ready = buffer.withLockedValue { buffer in
                buffer.finished += marks.count
                let finished = buffer.finished
                defer { buffer.waiters.removeAll { $0.target <= finished } }
                return buffer.waiters.filter { $0.target <= finished }.map(\.continuation)
            }
            for continuation in ready { continuation.resume() }
        }
        return ticket
    }

    /// Returns once the success behind `ticket`, and every one recorded before it, is on record (or
    /// its failure reported), so that a search that follows cannot find it still pending.
    public func waitUntilRecorded(_ ticket: DeliveredMarkTicket) async {
        await withCheckedContinuation { continuation in
            let done = deliveredMarks.withLockedValue { buffer in
                guard buffer.finished < ticket.count else { return true }
                buffer.waiters.append((ticket.count, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private static func markDelivered(endpoint: String, sequence: Int64, attempts: Int, db: Database) throws {
        try db.cachedStatement(
            sql:
                "UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL, updated_at = ? WHERE endpoint = ? AND seq = ?"
        ).execute(arguments: [attempts, Date().timeIntervalSince1970, endpoint, sequence])
    }

    /// Records a failed attempt: tried again at `retryAt`, or a dead letter when nil.
    public func markFailed(
        endpoint: String, sequence: Int64, attempts: Int, error: String, retryAt: Date?
    ) async throws(JournalError) {
        try await writeUnsynced { db in
            try db.cachedStatement(
                sql: """
                    UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_at = ?, updated_at = ?
                    WHERE endpoint = ? AND seq = ?
                    """
            ).execute(
                arguments: [
                    retryAt == nil ? "dead" : "pending", attempts, error, retryAt?.timeIntervalSince1970 ?? 0,
                    Date().timeIntervalSince1970, endpoint, sequence,
                ])
        }
    }

    /// The endpoint answers again after being down: its retries waiting for later become due now,
    /// instead of hours after it came back. Returns how many.
    public func expediteRetries(endpoint: String, now: Date = Date()) async throws(JournalError) -> Int {
        try await writeUnsynced { db in
            try db.execute(
                sql: "UPDATE deliveries SET next_at = ? WHERE endpoint = ? AND state = 'pending' AND next_at > ?",
                arguments: [now.timeIntervalSince1970, endpoint, now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// Every endpoint's counts and its last error.
    public func backlog() throws(JournalError) -> [EndpointBacklog] {
        let sql = """
            SELECT endpoint,
                   sum(state = 'pending'), sum(state = 'delivered'), sum(state = 'dead'),
                   min(CASE WHEN state = 'pending' THEN updated_at END),
                   (SELECT last_error FROM deliveries l WHERE l.endpoint = d.endpoint AND l.last_error IS NOT NULL
                    ORDER BY updated_at DESC LIMIT 1)
            FROM deliveries d GROUP BY endpoint ORDER BY endpoint
            """
        return try read { db in
            try Row.fetchAll(db, sql: sql).map { row in
                EndpointBacklog(
                    endpoint: row[0], pending: row[1], delivered: row[2], dead: row[3], oldestPending: row[4], lastError: row[5])
            }
        }
    }

    /// The endpoints with undelivered rows (pending or dead) that are not among `configured`: left by
    /// an endpoint or a tenant renamed or removed. Their rows are never sent, and hold their events
    /// past the retention, until moved or dropped.
    public func unconfiguredBacklog(configured: Set<String>) throws(JournalError) -> [EndpointBacklog] {
        try read { db in
            try Self.deliveryEndpoints(db).filter { !configured.contains($0) }.compactMap { endpoint in
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT sum(state = 'pending'), sum(state = 'dead'), min(CASE WHEN state = 'pending' THEN updated_at END)
                        FROM deliveries INDEXED BY deliveries_pending WHERE endpoint = ? AND state IN ('pending', 'dead')
                        """,
                    arguments: [endpoint])
                let pending: Int = row?[0] ?? 0
                let dead: Int = row?[1] ?? 0
                guard pending + dead > 0 else { return nil }
                return EndpointBacklog(
                    endpoint: endpoint, pending: pending, delivered: 0, dead: dead, oldestPending: row?[2], lastError: nil)
            }
        }
    }

    /// Moves the undelivered rows (pending and dead) of endpoint `from` to endpoint `to`, keeping their
    /// states; a row `to` already has for the same event is left to it. Returns how many moved.
    public func moveUndelivered(from: String, to: String) async throws(JournalError) -> Int {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE OR IGNORE deliveries SET endpoint = ?, updated_at = ? WHERE endpoint = ? AND state IN ('pending', 'dead')",
                arguments: [to, Date().timeIntervalSince1970, from])
            let moved = db.changesCount
            try db.execute(sql: "DELETE FROM deliveries WHERE endpoint = ? AND state IN ('pending', 'dead')", arguments: [from])
            return moved
        }
    }

    /// Deletes undelivered rows of `endpoint`: every one (`deadOnly` false), or its dead letters, which
    /// releases the calls they held. Returns how many.
    public func dropUndelivered(endpoint: String, deadOnly: Bool) async throws(JournalError) -> Int {
        try await write { db in
            try db.execute(
                sql: deadOnly
                    ? "DELETE FROM deliveries WHERE endpoint = ? AND state = 'dead'"
                    : "DELETE FROM deliveries WHERE endpoint = ? AND state IN ('pending', 'dead')",
                arguments: [endpoint])
            return db.changesCount
        }
    }

    public func deadDeliveries(endpoint: String? = nil) throws(JournalError) -> [DeadDelivery] {
        var sql = """
            SELECT d.endpoint, d.seq, d.attempts, d.last_error, e.id FROM deliveries d JOIN events e ON e.seq = d.seq
            WHERE d.state = 'dead'
            """
        var arguments: StatementArguments = []
        if let endpoint {
            sql += " AND d.endpoint = ?"
            arguments += [endpoint]
        }
        sql += " ORDER BY d.seq"
        let finalArguments = arguments
        return try read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map { row in
                DeadDelivery(endpoint: row[0], sequence: row[1], attempts: row[2], lastError: row[3], eventId: row[4])
            }
        }
    }

    /// Dead letters of `endpoint` (all endpoints when nil) become pending again, due at once; a running
    /// daemon picks them up. Returns how many.
    public func retryDead(endpoint: String?) async throws(JournalError) -> Int {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?, updated_at = ?
                    WHERE state = 'dead' AND (? IS NULL OR endpoint = ?)
                    """,
                arguments: [Date().timeIntervalSince1970, Date().timeIntervalSince1970, endpoint, endpoint])
            return db.changesCount
        }
    }
}
