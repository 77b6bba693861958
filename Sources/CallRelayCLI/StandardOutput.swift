import Foundation

/// Writes one line to stdout at once. `print` is block-buffered when stdout is a pipe, which would
/// hold events back from `jq`, `tail -f` or a supervisor's log until 4 KiB had piled up.
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A message for the person at the terminal, on standard error, prefixed with the program's name.
func writeError(_ message: String) {
    FileHandle.standardError.write(Data(("callrelay: " + message + "\n").utf8))
}

/// One JSON object as a line on stdout, keys sorted.
func writeJSONLine(_ object: [String: Any], options: JSONSerialization.WritingOptions = [.sortedKeys]) throws {
    writeLine(String(decoding: try JSONSerialization.data(withJSONObject: object, options: options), as: UTF8.self))
}
