import Foundation

/// An append-only file that rotates by size: `events.jsonl` → `events.jsonl.1` → ... → `.keep`, the
/// oldest dropped. Each write is one `write(2)` of whole lines, so a reader never sees half a line.
/// Not thread-safe by itself: its owner serializes access (hence `@unchecked`).
final class RotatingFile: @unchecked Sendable {
    let path: String
    let maxBytes: Int
    let keep: Int
    private var descriptor: Int32 = -1
    private var size = 0
    /// A write failed part way: the next one starts with a line break, so that the half line stays
    /// one bad line instead of spoiling the next.
    private var halfLine = false

    /// `path` "-" is standard output, which never rotates.
    init(path: String, maxBytes: Int, keep: Int) throws(LogStreamError) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = max(keep, 0)
        try open()
    }

    deinit {
        if descriptor > 2 { close(descriptor) }
    }

    private func open() throws(LogStreamError) {
        if path == "-" {
            descriptor = STDOUT_FILENO
            return
        }
        // Every caller's number is in it: as private as the journal.
        let opened = Foundation.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, DataDirectory.fileMode)
        guard opened >= 0 else { throw LogStreamError(path: path, reason: String(cString: strerror(errno))) }
        descriptor = opened
        size = DataDirectory.size(of: opened)
    }

    var isTerminal: Bool { isatty(descriptor) == 1 }

    /// Writes `bytes` whole, or returns why not (a full disk, a closed pipe, a file that could not be
    /// opened again after a rotation). The journal still has every event; the next write tries again,
    /// reopening the file if it has to.
    func write(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if descriptor < 0 {
            do { try open() } catch { return error.reason }
        }
        if path != "-", maxBytes > 0, size > 0, size + bytes.count > maxBytes {
            if let failure = rotate() { return "cannot open it again after rotating: \(failure)" }
        }
        if halfLine {
            var newline = UInt8(ascii: "\n")
            guard Foundation.write(descriptor, &newline, 1) == 1 else { return String(cString: strerror(errno)) }
            halfLine = false
            size += 1
        }
        guard let base = bytes.baseAddress else { return nil }
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                halfLine = offset > 0
                return String(cString: strerror(errno))
            }
            offset += written
            size += written
        }
        return nil
    }

    private func rotate() -> String? {
        close(descriptor)
        descriptor = -1
        if keep == 0 {
            unlink(path)
        } else {
            unlink("\(path).\(keep)")
            for index in stride(from: keep - 1, through: 1, by: -1) {
                rename("\(path).\(index)", "\(path).\(index + 1)")
            }
            rename(path, "\(path).1")
        }
        size = 0
        halfLine = false  // the half line stays in the file rotated away
        do { try open() } catch { return error.reason }
        return nil
    }
}

/// The log stream's file cannot be opened.
public struct LogStreamError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot open the log stream \(path): \(reason)" }
}
