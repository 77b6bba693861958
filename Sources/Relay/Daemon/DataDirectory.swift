import Foundation

/// The data directory and the files callrelay makes in it hold every caller's number: none of them
/// gives other users access. Their group may read them.
enum DataDirectory {
    /// The mode of a file callrelay creates there (the journal, the gap log, the dead letters).
    static let fileMode: mode_t = 0o640

    /// Creates `url` and any missing parents with no access for others; an existing directory keeps
    /// its mode.
    static func create(_ url: URL) throws {
        try FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
    }

    /// The size of an open file, 0 for one that has none (a pipe). Through `lseek`, not `fstat`:
    /// `struct stat` is declared by several modules the package imports, and which one Swift picks
    /// depends on the build order.
    static func size(of descriptor: Int32) -> Int {
        let end = lseek(descriptor, 0, SEEK_END)
        return end > 0 ? Int(end) : 0
    }
}
