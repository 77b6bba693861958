import Foundation

/// Writes one line to stdout at once. `print` is block-buffered when stdout is a pipe, which would
/// hold events back from `jq`, `tail -f` or a supervisor's log until 4 KiB had piled up.
func writeLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
