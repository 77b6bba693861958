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

    func save(_ token: String?) {
        guard let token else {
            unlink(path)
            return
        }
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Written to a private temporary file and renamed: never readable by others, never half written.
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { return }
        let bytes = Array(token.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        fsync(descriptor)
        close(descriptor)
        if written == bytes.count { rename(temporary, path) } else { unlink(temporary) }
    }
}
