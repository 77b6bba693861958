import Foundation

/// A tenant's last sign of life from its PBX, in `DATA_DIR/tenants/TENANT.alive`, so that the gap a
/// restart leaves (a deploy, a crash, `kill -9`) is recorded from it at the next subscription.
///
/// Written when a connection ends, at shutdown, and at most every ``interval`` while messages come:
/// after a crash the time on file may be up to that much older than the true last message, which only
/// makes the recorded gap wider. Not synced, for the same reason.
public struct SignOfLifeFile: Sendable {
    public let path: String
    /// How stale the time on file may be while a connection is up.
    public static let interval = Duration.seconds(30)

    public init(dataDirectory: URL, tenant: String) {
        path = dataDirectory.appendingPathComponent("tenants").appendingPathComponent("\(tenant).alive").path
    }

    public func load() -> Date? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), seconds.isFinite
        else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    /// Replaces the time on file; an error is returned for the caller to log.
    public func save(_ date: Date) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try DataDirectory.create(URL(fileURLWithPath: directory))
        try ReplacedFile.write(
            String(format: "%.3f\n", date.timeIntervalSince1970), to: path, mode: DataDirectory.fileMode, durable: false)
    }
}
