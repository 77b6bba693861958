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
            if unlink(path) != 0, errno != ENOENT { throw TokenFileError(path: path, action: "remove", errno: errno) }
            return
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TokenFileError(path: directory, action: "create", reason: error.localizedDescription)
        }
        // Written to a private temporary file, synced, renamed, and the rename synced: never readable
        // by others, never half written, and still there after a power cut.
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TokenFileError(path: temporary, action: "create", errno: errno) }
        let bytes = Array(token.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let writeError = errno
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw TokenFileError(path: temporary, action: "write", errno: written < 0 || !synced ? writeError : EIO)
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw TokenFileError(path: path, action: "rename to", errno: error)
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { throw TokenFileError(path: directory, action: "open", errno: errno) }
        defer { close(folder) }
        if fsync(folder) != 0 { throw TokenFileError(path: directory, action: "sync", errno: errno) }
    }
}

/// Why a session token could not be kept: the path and the system's reason, never the token.
struct TokenFileError: Error, CustomStringConvertible {
    var path: String
    var action: String
    var reason: String

    init(path: String, action: String, reason: String) {
        self.path = path
        self.action = action
        self.reason = reason
    }

    init(path: String, action: String, errno code: Int32) {
        self.init(path: path, action: action, reason: String(cString: strerror(code)))
    }

    var description: String { "cannot \(action) \(path): \(reason)" }
}
