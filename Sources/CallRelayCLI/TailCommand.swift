import ArgumentParser
import CallEvents
import CallRelayCore
import Foundation
import Relay

/// `callrelay tail`: the journal's events, filtered, like `tail -f`; also while the daemon runs.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Show journaled events, filtered; --follow waits for new ones.",
        discussion: """
            Reads DATA_DIR/journal.sqlite without disturbing a running daemon. Output is readable lines on a \
            terminal and JSON Lines otherwise (for jq); --json or --pretty choose.
            """
    )

    @Option(name: .customLong("config"), help: "The YAML configuration file (for its data_dir).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "The data directory, instead of --config.")
    var dataDir: String?

    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Keep waiting for new events.")
    var follow = false

    @Option(name: .customLong("tenant"), help: "Only this tenant.")
    var tenant: String?

    @Option(name: .customLong("type"), help: "Only this event type, such as call.ended (repeatable).")
    var types: [String] = []

    @Option(name: .customLong("call"), help: "Only this call id.")
    var call: String?

    @Option(name: .customLong("since"), help: "Only events received since: 90s, 10m, 2h, 7d, or an RFC 3339 time.")
    var since: String?

    @Option(name: [.customShort("n"), .customLong("lines")], help: "Start with at most this many of the newest events.")
    var lines: Int?

    @Flag(name: .customLong("json"), help: "JSON Lines.")
    var json = false

    @Flag(name: .customLong("pretty"), help: "Readable lines.")
    var pretty = false

    func validate() throws {
        if config == nil && dataDir == nil { throw ValidationError("give --config FILE or --data-dir DIR") }
        if json && pretty { throw ValidationError("--json and --pretty exclude each other") }
        if let since, Self.sinceDate(since) == nil {
            throw ValidationError("--since '\(since)': use 90s, 10m, 2h, 7d or an RFC 3339 time such as 2026-11-27T08:00:00Z")
        }
        if let unknown = types.first(where: { type in !CallEventType.all.contains { $0.rawValue == type } }) {
            throw ValidationError(
                "--type '\(unknown)' is not an event type; one of \(CallEventType.all.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let directory: URL
        if let dataDir {
            directory = URL(fileURLWithPath: dataDir)
        } else {
            directory = try loadConfiguration(config ?? "", secrets: false).dataDirectory
        }
        let journal: Journal
        do {
            journal = try Journal(directory: directory, create: false)
        } catch {
            writeError(error.description)
            throw ExitCode(1)
        }
        let asJSON = json || (!pretty && isatty(STDOUT_FILENO) == 0)
        let format = PrettyEventFormat(colour: isatty(STDOUT_FILENO) == 1)
        let filter = JournalFilter(
            tenant: tenant, types: types, callId: call, since: since.flatMap(Self.sinceDate)?.timeIntervalSince1970)
        // The newest `lines` matching events (paged like the rest), then the follow goes on after them.
        var cursor = try lines.map { try journal.start(ofNewest: $0, matching: filter) } ?? 0
        var output = LineBuffer()
        do {
            while true {
                let page = try journal.entries(after: cursor, matching: filter, limit: 1000)
                for entry in page { try show(entry.json, asJSON: asJSON, format: format, to: &output) }
                // Each page is written as it is read: an event never waits for a later one.
                try output.flush()
                if let last = page.last { cursor = last.sequence }
                if page.count == 1000 { continue }
                if !follow { return }
                // A reader's query of the newest rows is an index seek: cheap enough to ask often, so
                // that a committed event shows within a few tens of milliseconds.
                try await Task.sleep(for: .milliseconds(25))
            }
        } catch let error as OutputError {
            throw error.exit()
        }
    }

    private func show(
        _ json: String, asJSON: Bool, format: PrettyEventFormat, to output: inout LineBuffer
    ) throws(OutputError) {
        // A row that does not read as an event is shown as it is, never dropped.
        try output.append(asJSON ? json : format.line(json: json) ?? json)
    }

    static func sinceDate(_ text: String) -> Date? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let unit = text.last, let scale = units[unit], let number = Double(text.dropLast()), number >= 0 {
            return Date().addingTimeInterval(-number * scale)
        }
        return RFC3339.parse(text)
    }
}
