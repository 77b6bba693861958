import Foundation
import Xelion

/// A tenant's last PBX session token in `DATA_DIR/sessions/TENANT.token`, readable by the relay's
/// user only. After a crash the restarted relay presents it at login, which ends the old session on
/// the PBX instead of being refused with 10005 until that session expires.
struct SessionTokenFile: XelionTokenStore {
    let path: String

    init(dataDirectory: URL, tenant: String) {
        path = dataDirectory.appendingPathComponent("sessions").appendingPathComponent("\(tenant).token").path
    }

    func load() -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return token.isEmpty ? nil : token
    }

    func save(_ token: String?) throws {
        guard let token else {
            if unlink(path) != 0, errno != ENOENT { throw DataFileError(path: path, action: "remove", errno: errno) }
            return
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw DataFileError(path: directory, action: "create", reason: error.localizedDescription)
        }
        // Never readable by others, never half written, and still there after a power cut.
        try ReplacedFile.write(token, to: path, mode: 0o600, durable: true)
    }
}
