import ArgumentParser
import Foundation

/// Writes one line to stdout at once. `print` is block-buffered when stdout is a pipe, which would
/// hold events back from `jq`, `tail -f` or a supervisor's log until 4 KiB had piled up.
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Lines gathered for standard output and written with one `write(2)` when the caller says the lines
/// at hand are done (or 64 KiB have gathered): a system call per line is most of a tool's time when
/// it prints a million, and a line still never waits for a later one.
struct LineBuffer: ~Copyable {
    private var bytes: [UInt8] = []
    /// Written out once this full, even in the middle of what is at hand.
    static let capacity = 64 * 1024

    init() { bytes.reserveCapacity(Self.capacity) }

    /// Appends `line` and a line break; writes everything out once the buffer is full.
    mutating func append(_ line: String) throws(OutputError) {
        var line = line
        line.withUTF8 { bytes.append(contentsOf: $0) }
        bytes.append(0x0A)
        if bytes.count >= Self.capacity { try flush() }
    }

    /// Writes everything gathered, retrying short writes and interruptions.
    mutating func flush() throws(OutputError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(STDOUT_FILENO, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                bytes.removeAll(keepingCapacity: true)
                throw OutputError(code: code)
            }
            offset += written
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// Standard output cannot be written (its reader went away, a full disk).
struct OutputError: Error, CustomStringConvertible {
    /// The `errno` of the failed write.
    var code: Int32
    /// The reader closed the pipe (`| head`): the person has what they wanted, so the command ends
    /// at once and says nothing, as a shell tool killed by SIGPIPE would.
    var readerWentAway: Bool { code == EPIPE }
    var description: String { "cannot write to standard output: \(String(cString: strerror(code)))" }

    /// Says why, unless the reader went away, and ends the command: 0 when the reader went away, else 1.
    func exit() -> ExitCode {
        if readerWentAway { return .success }
        writeError("\(self)")
        return ExitCode(1)
    }
}

/// A message for the person at the terminal, on standard error, prefixed with the program's name.
func writeError(_ message: String) {
    FileHandle.standardError.write(Data(("callrelay: " + message + "\n").utf8))
}

/// One JSON object as a line on stdout, keys sorted.
func writeJSONLine(_ object: [String: Any], options: JSONSerialization.WritingOptions = [.sortedKeys]) throws {
    writeLine(String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self))
}
