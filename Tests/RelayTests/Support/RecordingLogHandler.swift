import Logging
import NIOConcurrencyHelpers

/// Keeps every line logged through it, for tests that check what an operator is told.
struct RecordingLogHandler: LogHandler {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    /// The lines logged so far, shared by every copy of the handler.
    final class Records: Sendable {
        private let box = NIOLockedValueBox<[Record]>([])
        var all: [Record] { box.withLockedValue { $0 } }
        func append(_ record: Record) { box.withLockedValue { $0.append(record) } }
    }

    let records: Records
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.append(
            Record(level: event.level, message: "\(event.message)", metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }

    /// A logger whose lines land in the returned records.
    static func logger() -> (Logger, Records) {
        let records = Records()
        return (Logger(label: "test") { _ in RecordingLogHandler(records: records) }, records)
    }
}
