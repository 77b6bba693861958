import Foundation
import NIOConcurrencyHelpers

/// Every tenant's last sign of life from its PBX, so that the gap a restart leaves (a deploy, a
/// crash, `kill -9`) is recorded from it at the next subscription. Kept in memory as messages come
/// and written, all tenants at once, to `DATA_DIR/tenants/alive` (a line `NAME SECONDS` per tenant)
/// every ``interval``, within a second of a tenant's first sign of life (so that a relay killed
/// right after its first start still leaves one), and when the sources stop.
///
/// One file for all tenants, not one each: replacing a file by rename makes ext4 flush the new
/// file's data at its next journal commit, and thousands of tenants replacing theirs every interval
/// stalled the event journal's syncs behind them. After a crash the time on file may be up to an
/// interval older than the true last message, which only makes the recorded gap wider. Not synced,
/// for the same reason.
public final class SignsOfLife: Sendable {
    /// How stale the time on file may be while a connection is up.
    public static let interval = Duration.seconds(30)

    private struct State {
        var dates: [String: Date] = [:]
        var changed = false
        /// A tenant with no time on file yet: written without waiting for the interval.
        var added = false
        var writtenAt: ContinuousClock.Instant?
        /// Files of the layout with one file per tenant, read at start and removed once their time
        /// is in the shared file.
        var legacyFiles: [String] = []
    }

    public let path: String
    private let directory: String
    private let state: NIOLockedValueBox<State>

    /// Reads the file left by the last run, if any.
    public init(dataDirectory: URL) {
        directory = dataDirectory.appendingPathComponent("tenants").path
        path = directory + "/alive"
        var state = State()
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let space = line.firstIndex(of: " "), let seconds = Double(line[line.index(after: space)...]),
                    Self.plausible(seconds)
                else { continue }  // a line cut short by a crash loses only that tenant's time
                state.dates[String(line[..<space])] = Date(timeIntervalSince1970: seconds)
            }
        }
        self.state = NIOLockedValueBox(state)
    }

    /// The tenant's last sign of life on file when the relay started.
    public func load(tenant: String) -> Date? {
        state.withLockedValue { state in
            if let date = state.dates[tenant] { return date }
            // An older layout's `tenants/NAME.alive`.
            let legacy = directory + "/\(tenant).alive"
            guard let text = try? String(contentsOfFile: legacy, encoding: .utf8),
                let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), Self.plausible(seconds)
            else { return nil }
            let date = Date(timeIntervalSince1970: seconds)
            state.dates[tenant] = date
            state.legacyFiles.append(legacy)
            state.changed = true
            return date
        }
    }

    /// Notes a sign of life (or, for a tenant that lost its connection, the start of its gap), in
    /// memory only.
    public func record(_ date: Date, tenant: String) {
        state.withLockedValue { state in
            if state.dates.updateValue(date, forKey: tenant) == nil { state.added = true }
            state.changed = true
        }
    }

    /// Writes when a tenant has no time on file yet, or when times changed and the last write is an
    /// ``interval`` old; returns whether it wrote.
    @discardableResult
    public func flushIfDue(at now: ContinuousClock.Instant = .now) throws -> Bool {
        let due = state.withLockedValue { state in
            state.changed && (state.added || state.writtenAt.map { now - $0 >= Self.interval } ?? true)
        }
        return due ? try flush(at: now) : false
    }

    /// A time a relay could have written: after 1970 and before the year 5000, whatever a hand edit
    /// or a damaged disk left.
    static func plausible(_ seconds: Double) -> Bool { seconds.isFinite && seconds > 0 && seconds < 95_617_584_000 }

    /// Seconds since 1970 to the millisecond, as `1764800000.250`, without `String(format:)`: every
    /// tenant is formatted at each write.
    static func secondsText(_ date: Date) -> String {
        guard let milliseconds = Int64(exactly: (date.timeIntervalSince1970 * 1000).rounded()), milliseconds >= 0 else {
            return "0.000"
        }
        let (whole, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: 3 - digits.count) + digits
    }

    /// Writes every tenant's time if any changed since the last write; returns whether it wrote.
    @discardableResult
    public func flush(at now: ContinuousClock.Instant = .now) throws -> Bool {
        // A copy, formatted outside the lock, which every tenant's messages take.
        let (dates, legacy) = state.withLockedValue { state -> ([String: Date]?, [String]) in
            guard state.changed else { return (nil, []) }
            state.changed = false
            state.added = false
            state.writtenAt = now
            defer { state.legacyFiles.removeAll() }
            return (state.dates, state.legacyFiles)
        }
        guard let dates else { return false }
        var text = ""
        text.reserveCapacity(dates.count * 32)
        for (tenant, date) in dates {
            text += tenant
            text += " "
            text += Self.secondsText(date)
            text += "\n"
        }
        do {
            try DataDirectory.create(URL(fileURLWithPath: directory))
            try ReplacedFile.write(text, to: path, mode: DataDirectory.fileMode, durable: false)
        } catch {
            // Written at the next flush instead.
            state.withLockedValue { state in
                state.changed = true
                state.legacyFiles += legacy
            }
            throw error
        }
        for file in legacy { unlink(file) }
        return true
    }
}
