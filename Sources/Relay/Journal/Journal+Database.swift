import CallEvents
import Foundation
import GRDB
import Logging
import NIOConcurrencyHelpers

extension Journal {
    /// Writes with the journal's durability.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        try await write(synchronous: options.durability.pragma, body)
    }

    /// Writes without waiting for the disk (`synchronous = NORMAL`): for delivery outcomes, whose
    /// loss on a power cut only means an event is posted again under the same `webhook-id`, which the
    /// delivery contract allows. An fsync for each would cap deliveries at the disk's sync rate and
    /// queue the events' own commits behind them. A crash of the process loses nothing either way.
    func writeUnsynced<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        try await write(synchronous: JournalOptions.Durability.normal.pragma, body)
    }

    /// Runs `body` on the writer without waiting for it, after the writes it already holds, with
    /// ``writeUnsynced(_:)``'s durability. `body` opens its own transaction and reports its own errors.
    func writeUnsynced(_ body: @escaping @Sendable (Database) -> Void) {
        let checkpointer = self.checkpointer
        pool.asyncWriteWithoutTransaction { db in
            // Cannot fail for a valid setting; if it did, the write would merely be synced.
            try? Self.setSynchronous(JournalOptions.Durability.normal.pragma, db)
            body(db)
            checkpointer?.written(on: db)
        }
    }

    /// The writer connection's `synchronous` setting, which commits and delivery outcomes set to what
    /// each needs. Cached: it runs for every commit.
    static func setSynchronous(_ value: String, _ db: Database) throws {
        try db.cachedStatement(sql: "PRAGMA synchronous = \(value)").execute()
    }

    func write<T: Sendable>(
        synchronous: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(JournalError) -> T {
        let checkpointer = self.checkpointer
        do {
            return try await pool.writeWithoutTransaction { db in
                defer { checkpointer?.written(on: db) }
                try Self.setSynchronous(synchronous, db)
                var value: T?
                try db.inTransaction(.immediate) {
                    value = try body(db)
                    return .commit
                }
                guard let value else { throw DatabaseError(message: "the transaction returned nothing") }
                return value
            }
        } catch {
            throw .writeFailed(path: path, reason: JournalError.reason(error))
        }
    }

    /// Reads on GRDB's reader queue, for callers on the cooperative pool that must not block it.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(JournalError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw .readFailed(path: path, reason: JournalError.reason(error))
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(JournalError) -> T {
        do {
            return try pool.read(body)
        } catch {
            throw .readFailed(path: path, reason: JournalError.reason(error))
        }
    }
}
