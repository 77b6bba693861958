import CallRelayCore
import GRDB
import GRDBSQLite
import Xelion

/// The insert of one event row, bound and stepped through SQLite's C API on GRDB's cached statement
/// (which GRDB offers for this: ``Statement/sqliteStatement``).
///
/// Why not `Statement.execute(arguments:)`: it runs once per event, and converting six arguments
/// to `DatabaseValue`s and measuring each string again with `strlen` was a third of the insert's time.
struct EventInsert {
    private let statement: Statement
    private let connection: SQLiteConnection?

    /// The row's columns; `body` is the event's JSON.
    struct Row {
        /// Handed out by the journal, which counts them itself (schema v6).
        var sequence: Int64
        var id: String
        var tenant: String
        var type: String
        var callId: String
        var receivedAt: Double
    }

    init(_ db: Database) throws {
        // `caller_flow` and `callee_flow` (schema v1) stay NULL: nothing has read them since transfer
        // correlation moved into memory (v5), and a NULL takes no room in the row.
        statement = try db.cachedStatement(
            sql: "INSERT INTO events (seq, id, tenant, type, call_id, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)")
        connection = db.sqliteConnection
    }

    /// Inserts `row` with `body`.
    func execute(_ row: Row, body: UnsafeBufferPointer<UInt8>) throws {
        let handle = statement.sqliteStatement
        // The short texts are copied side by side into one buffer on the stack, so that every value is
        // bound without a copy (SQLITE_STATIC): SQLite's own copies were a malloc each. Nothing bound
        // outlives this call: the statement is reset and its bindings cleared before it returns.
        let code = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.scratchCapacity) { scratch -> CInt in
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            var used = 0
            func bind(_ text: String, at index: CInt) -> CInt {
                text.withUTF8Bytes { bytes in
                    guard used + bytes.count <= scratch.count, let base = scratch.baseAddress else {
                        return sqlite3_bind_text(handle, index, Self.text(bytes), CInt(bytes.count), Self.transient)
                    }
                    let start = base + used
                    if let source = bytes.baseAddress { start.update(from: source, count: bytes.count) }
                    used += bytes.count
                    return sqlite3_bind_text(
                        handle, index, Self.text(UnsafeBufferPointer(start: start, count: bytes.count)), CInt(bytes.count), nil)
                }
            }
            var code = sqlite3_bind_int64(handle, 1, row.sequence)
            code = code == SQLITE_OK ? bind(row.id, at: 2) : code
            code = code == SQLITE_OK ? bind(row.tenant, at: 3) : code
            code = code == SQLITE_OK ? bind(row.type, at: 4) : code
            code = code == SQLITE_OK ? bind(row.callId, at: 5) : code
            code = code == SQLITE_OK ? sqlite3_bind_double(handle, 6, row.receivedAt) : code
            code = code == SQLITE_OK ? sqlite3_bind_text(handle, 7, Self.text(body), CInt(body.count), nil) : code
            return code == SQLITE_OK ? sqlite3_step(handle) : code
        }
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: connection.map { String(cString: sqlite3_errmsg($0)) },
                sql: statement.sql)
        }
    }

    /// Room for the short texts of a row; longer ones (unusual ids) are bound as copies.
    private static let scratchCapacity = 1024

    /// The bytes as SQLite's `const char *`; never NULL, which would bind SQL NULL instead of "".
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafePointer<CChar> {
        UnsafeRawPointer(bytes.baseAddress ?? StaticString("").utf8Start).assumingMemoryBound(to: CChar.self)
    }

    /// SQLite's SQLITE_TRANSIENT (copy the value now), which the C header defines as a cast Swift does
    /// not import.
    private static var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}
