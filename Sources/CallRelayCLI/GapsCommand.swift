import ArgumentParser
import Foundation
import Relay

/// `callrelay gaps`: the windows in which events may have been missed, for reconciliation.
struct GapsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gaps",
        abstract: "List the gaps in each tenant's event stream (socket down, events not replayed by the PBX)."
    )

    @Option(name: .customLong("config"), help: "The YAML configuration file (for its data_dir).")
    var config: String

    @Option(name: .customLong("tenant"), help: "Only this tenant.")
    var tenant: String?

    @Flag(name: .customLong("json"), help: "One JSON object per line.")
    var json = false

    func run() async throws {
        let configuration = try loadConfiguration(config, secrets: false)
        let gaps = try GapLog(dataDirectory: configuration.dataDirectory).all(tenant: tenant)
        if gaps.isEmpty && !json {
            writeLine("no gaps recorded")
            return
        }
        // The log holds up to some hundreds of thousands of gaps: gathered and written in blocks.
        var output = LineBuffer()
        let now = Date()
        do throws(OutputError) {
            for gap in gaps {
                try output.append(json ? gap.jsonLine : Self.line(gap, now: now))
            }
            try output.flush()
        } catch {
            throw error.exit()
        }
    }

    static func line(_ gap: Gap, now: Date) -> String {
        let end = gap.end.map(Gap.secondsText) ?? "now (open: the relay is not running, or not subscribed)"
        return "\(gap.tenant)  \(Gap.secondsText(gap.start)) → \(end)  (\(tenths(gap.duration(now: now))) s)  \(gap.cause)"
    }

    /// One decimal, as `%.1f` writes it, without the C formatter per line.
    static func tenths(_ seconds: Double) -> String {
        guard let tenths = Int(exactly: (seconds * 10).rounded()) else { return seconds.isFinite ? "\(seconds)" : "?" }
        let sign = tenths < 0 ? "-" : ""
        return "\(sign)\(abs(tenths) / 10).\(abs(tenths) % 10)"
    }
}
