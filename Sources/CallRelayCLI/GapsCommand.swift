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
        if json {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            encoder.outputFormatting = [.sortedKeys]
            for gap in gaps { print(String(decoding: try encoder.encode(gap), as: UTF8.self)) }
            return
        }
        if gaps.isEmpty {
            print("no gaps recorded")
            return
        }
        for gap in gaps {
            let start = gap.start.formatted(.iso8601)
            let end = gap.end?.formatted(.iso8601) ?? "now (open: the relay is not running, or not subscribed)"
            print("\(gap.tenant)  \(start) → \(end)  (\(String(format: "%.1f", gap.duration())) s)  \(gap.cause)")
        }
    }
}
