import CallEvents
import Foundation
import GRDB

/// Which endpoints receive which events, by tenant: the journal adds a pending delivery for each in
/// the event's own commit.
public struct DeliveryRoute: Sendable, Equatable {
    /// `tenant url`: the endpoint's name in the journal.
    public var endpoint: String
    /// Empty: every type.
    public var types: Set<String>

    public init(tenant: String, url: String, types: [String]) {
        endpoint = "\(tenant) \(url)"
        self.types = Set(types)
    }

    func wants(_ event: CallEvent) -> Bool { types.isEmpty || types.contains(event.type.rawValue) }
}

/// A delivery waiting for its attempt.
public struct PendingDelivery: Sendable, Equatable {
    public var sequence: Int64
    public var attempts: Int
    public var json: String
    public var eventId: String
}

/// One endpoint's state, for `callrelay deliveries`.
public struct EndpointBacklog: Sendable, Equatable {
    public var endpoint: String
    public var pending: Int
    public var delivered: Int
    public var dead: Int
    public var oldestPending: Double?
    public var lastError: String?
}

/// A delivery that ran out of attempts.
public struct DeadDelivery: Sendable, Equatable {
    public var endpoint: String
    public var sequence: Int64
    public var attempts: Int
    public var lastError: String?
    public var eventId: String
}

extension Journal {
    static func addDeliveries(for entry: JournalEntry, routes: [DeliveryRoute], now: Double, db: Database) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO deliveries (endpoint, seq, call_key, next_at, updated_at) VALUES (?, ?, ?, ?, ?)")
        for route in routes where route.wants(entry.event) {
            try insert.execute(arguments: [route.endpoint, entry.sequence, entry.event.data.callId, now, now])
        }
    }

    /// Up to `limit` deliveries of `endpoint` that are due, oldest first, skipping any whose call has
    /// an earlier delivery still pending (events of one call reach an endpoint in order) and those in
    /// `busy` (already in flight).
    public func dueDeliveries(
        endpoint: String, now: Date = Date(), limit: Int, busy: Set<Int64>
    ) async throws(JournalError)
        -> [PendingDelivery]
    {
        let sql = """
            SELECT d.seq, d.attempts, e.body, e.id FROM deliveries d JOIN events e ON e.seq = d.seq
            WHERE d.endpoint = ? AND d.state = 'pending' AND d.next_at <= ?
              AND NOT EXISTS (
                SELECT 1 FROM deliveries p
                WHERE p.endpoint = d.endpoint AND p.call_key = d.call_key AND p.state = 'pending' AND p.seq < d.seq)
            ORDER BY d.seq LIMIT ?
            """
        let rows = try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: [endpoint, now.timeIntervalSince1970, limit + busy.count]).map {
                PendingDelivery(sequence: $0[0], attempts: $0[1], json: $0[2], eventId: $0[3])
            }
        }
        return Array(rows.filter { !busy.contains($0.sequence) }.prefix(limit))
    }

    /// When the next pending delivery of `endpoint` is due, if any.
    public func nextDue(endpoint: String) async throws(JournalError) -> Date? {
        try await read { db in
            try Double.fetchOne(
                db, sql: "SELECT min(next_at) FROM deliveries WHERE endpoint = ? AND state = 'pending'", arguments: [endpoint])
        }.map { Date(timeIntervalSince1970: $0) }
    }

    /// Records a 2xx: this event is done for this endpoint, after a crash too.
    public func markDelivered(endpoint: String, sequence: Int64, attempts: Int) async throws(JournalError) {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE deliveries SET state = 'delivered', attempts = ?, last_error = NULL, updated_at = ? WHERE endpoint = ? AND seq = ?",
                arguments: [attempts, Date().timeIntervalSince1970, endpoint, sequence])
        }
    }

    /// Records a failed attempt: tried again at `retryAt`, or a dead letter when nil.
    public func markFailed(
        endpoint: String, sequence: Int64, attempts: Int, error: String, retryAt: Date?
    ) async throws(JournalError) {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE deliveries SET state = ?, attempts = ?, last_error = ?, next_at = ?, updated_at = ?
                    WHERE endpoint = ? AND seq = ?
                    """,
                arguments: [
                    retryAt == nil ? "dead" : "pending", attempts, error, retryAt?.timeIntervalSince1970 ?? 0,
                    Date().timeIntervalSince1970, endpoint, sequence,
                ])
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
