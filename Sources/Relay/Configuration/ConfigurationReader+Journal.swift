import Foundation
import Yams

/// `journal:` and `log_stream:`.
extension ConfigurationReader {
    mutating func journal(_ node: Node?) -> JournalOptions {
        var options = JournalOptions()
        guard let node else { return options }
        guard case .mapping(let mapping) = node else {
            problem(node, "journal", "must be a mapping")
            return options
        }
        let keys = fields(
            mapping, path: "journal",
            allowed: [
                "retention", "dedupe_window", "dedupe_max_entries", "transfer_window", "transfer_max_entries", "durability",
            ])
        if let value = duration(keys["retention"], path: "journal.retention") { options.retention = value }
        if let value = duration(keys["dedupe_window"], path: "journal.dedupe_window") { options.dedupeWindow = value }
        if let value = entryLimit(keys["dedupe_max_entries"], path: "journal.dedupe_max_entries") {
            options.dedupeMaxEntries = value
        }
        if let value = duration(keys["transfer_window"], path: "journal.transfer_window") { options.transferWindow = value }
        if let value = entryLimit(keys["transfer_max_entries"], path: "journal.transfer_max_entries") {
            options.transferMaxEntries = value
        }
        if let text = string(keys["durability"], path: "journal.durability", required: false) {
            if let value = JournalOptions.Durability(rawValue: text) {
                options.durability = value
            } else {
                problem(keys["durability"], "journal.durability", "must be full or normal")
            }
        }
        return options
    }
    mutating func logStream(_ node: Node?) -> RelayConfiguration.LogStreamSettings {
        var settings = RelayConfiguration.LogStreamSettings()
        guard let node else { return settings }
        guard case .mapping(let mapping) = node else {
            problem(node, "log_stream", "must be a mapping")
            return settings
        }
        let keys = fields(mapping, path: "log_stream", allowed: ["path", "format", "max_size", "keep"])
        if let value = string(keys["path"], path: "log_stream.path", required: false) {
            settings.path = value == "-" ? "-" : (path(keys["path"], path: "log_stream.path", mustExist: false) ?? value)
        }
        if let text = string(keys["format"], path: "log_stream.format", required: false) {
            if let format = LogStreamSink.Format(rawValue: text) {
                settings.format = format
            } else {
                problem(keys["format"], "log_stream.format", "must be json or pretty")
            }
        }
        if let node = keys["max_size"] {
            if let text = node.string, let bytes = Self.byteCount(text) {
                settings.maxBytes = bytes
            } else {
                problem(node, "log_stream.max_size", "must be a size such as 100MiB, 500MB or 0 (never rotate)")
            }
        }
        if let node = keys["keep"] {
            if let value = node.int, value >= 0 {
                settings.keep = value
            } else {
                problem(node, "log_stream.keep", "must be a whole number of rotated files, 0 or more")
            }
        }
        return settings
    }
}
