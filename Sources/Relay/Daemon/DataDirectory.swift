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
}
