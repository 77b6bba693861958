import Foundation

/// A small file in the data directory replaced whole: written to a temporary file beside it and
/// renamed over it, so a reader never sees it half written. With `durable`, the file and then the
/// rename are synced, so it is still there after a power cut.
enum ReplacedFile {
    static func write(_ text: String, to path: String, mode: mode_t, durable: Bool) throws(DataFileError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw DataFileError(path: temporary, action: "create", errno: errno) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let writeError = errno
        let synced = !durable || fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced else {
            unlink(temporary)
            throw DataFileError(path: temporary, action: "write", errno: written < 0 || !synced ? writeError : EIO)
        }
        guard rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw DataFileError(path: path, action: "rename to", errno: error)
        }
        guard durable else { return }
        let directory = (path as NSString).deletingLastPathComponent
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { throw DataFileError(path: directory, action: "open", errno: errno) }
        defer { close(folder) }
        if fsync(folder) != 0 { throw DataFileError(path: directory, action: "sync", errno: errno) }
    }
}

/// Why a file of the data directory could not be written: the path and the system's reason, never
/// what it was to hold.
struct DataFileError: Error, CustomStringConvertible {
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
