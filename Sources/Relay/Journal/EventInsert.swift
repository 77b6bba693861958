import GRDB
import GRDBSQLite

/// The insert of one event row, bound and stepped through SQLite's C API on GRDB's cached statement
/// (which GRDB offers for this: ``Statement/sqliteStatement``).
///
/// Why not `Statement.execute(arguments:)`: it runs once per event, and converting eight arguments
/// to `DatabaseValue`s and measuring each string again with `strlen` was a third of the insert's time.
struct EventInsert {
    private let statement: Statement
    private let connection: SQLiteConnection?

    /// The row's columns; `body` is the event's JSON.
    struct Row {
        var id: String
        var tenant: String
        var type: String
        var callId: String
        var receivedAt: Double
        var callerFlow: String?
        var calleeFlow: String?
    }

    init(_ db: Database) throws {
        statement = try db.cachedStatement(
            sql: """
                INSERT INTO events (id, tenant, type, call_id, received_at, caller_flow, callee_flow, body)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """)
        connection = db.sqliteConnection
    }

    /// Inserts `row` with `body`, and returns its sequence.
    func execute(_ row: Row, body: UnsafeBufferPointer<UInt8>) throws -> Int64 {
        let handle = statement.sqliteStatement
        // After the step, so a failed insert leaves nothing bound either; `body` is bound without a
        // copy (SQLITE_STATIC) and must not outlive this call.
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        var code = bind(row.id, at: 1)
        code = code == SQLITE_OK ? bind(row.tenant, at: 2) : code
        code = code == SQLITE_OK ? bind(row.type, at: 3) : code
        code = code == SQLITE_OK ? bind(row.callId, at: 4) : code
        code = code == SQLITE_OK ? sqlite3_bind_double(handle, 5, row.receivedAt) : code
        code = code == SQLITE_OK ? bind(row.callerFlow, at: 6) : code
        code = code == SQLITE_OK ? bind(row.calleeFlow, at: 7) : code
        code = code == SQLITE_OK ? sqlite3_bind_text(handle, 8, Self.text(body), CInt(body.count), nil) : code
        code = code == SQLITE_OK ? sqlite3_step(handle) : code
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) },
                sql: statement.sql)
        }
        return sqlite3_last_insert_rowid(connection)
    }

    /// Binds a copy (SQLITE_TRANSIENT) of a short text, or NULL.
    private func bind(_ text: String?, at index: CInt) -> CInt {
        let handle = statement.sqliteStatement
        guard var text else { return sqlite3_bind_null(handle, index) }
        return text.withUTF8 { bytes in
            sqlite3_bind_text(handle, index, Self.text(bytes), CInt(bytes.count), Self.transient)
        }
    }

    /// The bytes as SQLite's `const char *`; never NULL, which would bind SQL NULL instead of "".
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafePointer<CChar> {
        UnsafeRawPointer(bytes.baseAddress ?? StaticString("").utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// SQLite's SQLITE_TRANSIENT (copy the value now), which the C header defines as a cast Swift does
    /// not import.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}
