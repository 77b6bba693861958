import CallEvents

/// One committed event: its place in the journal and its JSON exactly as stored.
public struct JournalEntry: Sendable, Equatable {
    /// Increases with every commit; orders the log stream, `tail` and every delivery.
    public var sequence: Int64
    public var event: CallEvent
    /// The JSON Lines of the commit this entry came in (each committed event's JSON and a newline), and
    /// where this entry's JSON is in them: one buffer per commit rather than a `String` per event.
    /// Keeping an entry keeps its commit's buffer (about 1 KiB for each of its events): sinks that keep
    /// events for later keep `json`, as the webhook deliverer does.
    let lines: JournalLines
    let range: Range<Int>

    /// The event as stored, byte for byte what the log stream and the webhooks carry.
    public var json: String { withJSON { String(decoding: $0, as: UTF8.self) } }

    /// An entry with its JSON in a buffer of its own (a commit's entries share the commit's).
    public init(sequence: Int64, json: String, event: CallEvent) {
        self.sequence = sequence
        self.event = event
        var lines = CallEventJSONLines(capacity: json.utf8.count + 1)
        range = lines.append(json: json)
        self.lines = JournalLines(lines)
    }

    init(sequence: Int64, event: CallEvent, lines: JournalLines, range: Range<Int>) {
        self.sequence = sequence
        self.event = event
        self.lines = lines
        self.range = range
    }

    /// Calls `body` with the JSON's bytes, valid only inside `body`.
    func withJSON<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try lines.lines.withBytes(in: range, body)
    }

    /// The lines of `entries` as one run of bytes, when they are the consecutive lines of one commit (as
    /// a commit hands them to the sinks): nil otherwise.
    static func withLines<Result>(
        of entries: [JournalEntry], _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result? {
        guard let first = entries.first, let last = entries.last else { return nil }
        var next = first.range.lowerBound
        for entry in entries {
            guard entry.lines === first.lines, entry.range.lowerBound == next else { return nil }
            next = entry.range.upperBound + 1
        }
        return try first.lines.lines.withBytes(in: first.range.lowerBound..<(last.range.upperBound + 1), body)
    }

    public static func == (left: JournalEntry, right: JournalEntry) -> Bool {
        left.sequence == right.sequence && left.event == right.event
            && left.withJSON { leftJSON in right.withJSON { $0.elementsEqual(leftJSON) } }
    }
}

/// The JSON Lines of one commit, shared by its entries: the buffer the commit wrote, handed on without
/// a copy. `@unchecked`: nothing writes to it once the commit has made this (the buffer is not
/// `Sendable` only because it could be appended to), and reading it from many threads is safe.
final class JournalLines: @unchecked Sendable {
    let lines: CallEventJSONLines

    init(_ lines: consuming CallEventJSONLines) { self.lines = lines }
}
