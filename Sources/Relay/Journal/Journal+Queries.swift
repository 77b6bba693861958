import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers

extension Journal {
    /// Up to `limit` events after `sequence` that match `filter`, oldest first (the newest N: after
    /// ``start(ofNewest:matching:)``). Safe while the daemon writes: WAL readers see a consistent
    /// snapshot and never block the writer.
    public func entries(
        after sequence: Int64, matching filter: JournalFilter = .init(), limit: Int = 1000
    ) throws(JournalError)
        -> [(sequence: Int64, json: String)]
    {
        var (sql, arguments) = Self.selection("seq, body", after: sequence, matching: filter)
        sql += " ORDER BY seq LIMIT ?"
        arguments.append(limit)
        let statementArguments = StatementArguments(arguments)
        return try read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                (sequence: row[0] as Int64, json: row[1] as String)
            }
        }
    }

    /// The cursor from which the newest `count` events that match `filter` follow: what
    /// ``entries(after:matching:limit:)`` pages on from, without holding them all at once.
    public func start(ofNewest count: Int, matching filter: JournalFilter = .init()) throws(JournalError) -> Int64 {
        guard count > 0 else { return try lastSequence() }
        var (sql, arguments) = Self.selection("seq", after: 0, matching: filter)
        sql += " ORDER BY seq DESC LIMIT 1 OFFSET ?"
        arguments.append(count - 1)
        let statementArguments = StatementArguments(arguments)
        let first = try read { db in try Int64.fetchOne(db, sql: sql, arguments: statementArguments) }
        return first.map { $0 - 1 } ?? 0
    }

    /// `SELECT columns FROM events` after `sequence`, narrowed to what `filter` asks for.
    private static func selection(
        _ columns: String, after sequence: Int64, matching filter: JournalFilter
    ) -> (String, [(any DatabaseValueConvertible)?]) {
        var sql = "SELECT \(columns) FROM events WHERE seq > ?"
        var arguments: [(any DatabaseValueConvertible)?] = [sequence]
        if let tenant = filter.tenant {
            sql += " AND tenant = ?"
            arguments.append(tenant)
        }
        if !filter.types.isEmpty {
            sql += " AND type IN (\(filter.types.map { _ in "?" }.joined(separator: ",")))"
            arguments.append(contentsOf: filter.types.map { $0 as (any DatabaseValueConvertible)? })
        }
        if let callId = filter.callId {
            sql += " AND call_id = ?"
            arguments.append(callId)
        }
        if let since = filter.since {
            sql += " AND received_at >= ?"
            arguments.append(since)
        }
        return (sql, arguments)
    }

    /// The sequence of the newest event, 0 when empty.
    public func lastSequence() throws(JournalError) -> Int64 {
        try read(Self.newestSequence)
    }

    /// The sequence of the newest event, 0 when empty; for tasks, which must not block on a read.
    public func newestSequence() async throws(JournalError) -> Int64 {
        try await read(Self.newestSequence)
    }

    static let lastSequenceSQL = "SELECT value FROM journal_counters WHERE name = 'last_sequence'"

    static func newestSequence(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0
    }

    /// How many dedupe marks are kept.
    var dedupeMarkCount: Int { deduplication.count }

    /// How many flows transfer correlation remembers.
    var transferFlowCount: Int { transfers.count }

    /// The database's page size in bytes.
    func pageSize() throws(JournalError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0 }
    }

    /// How many events are stored.
    public func count() throws(JournalError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0 }
    }

}
