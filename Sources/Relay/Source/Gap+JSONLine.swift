import CallRelayCore
import Foundation

extension Gap {
    /// A line of `gaps.jsonl` read with the relay's own JSON parser: `callrelay gaps` reads up to
    /// twice the log's bound (hundreds of thousands of lines), and `JSONDecoder` with its ISO 8601
    /// dates took seconds for them. Nil for a line that is not a gap.
    init?(jsonLine line: Substring) {
        // Members rather than a dictionary, the keys' strings shared: a line has four.
        guard let (object, _) = try? JSONParser.parseObject(String(line), expanding: "", knownKeys: Self.keys),
            let tenant = object["tenant"]?.text,
            let cause = object["cause"]?.text, let start = object["start"]?.text.flatMap(RFC3339.parse)
        else { return nil }
        var end: Date?
        switch object["end"] {
        case nil, .null?: end = nil
        case .string(let text)?:
            guard let date = RFC3339.parse(text) else { return nil }
            end = date
        default: return nil
        }
        self.init(tenant: tenant, start: start, end: end, cause: cause)
    }

    private static let keys = KeyTable(["cause", "end", "start", "tenant"])

    /// The gap as `gaps.jsonl` and `callrelay gaps --json` write it: keys sorted, times to the second.
    public var jsonLine: String {
        var writer = JSONWriter(capacity: 160)
        writer.open()
        writer.field("cause", cause)
        if let end { writer.field("end", Self.secondsText(end)) }
        writer.field("start", Self.secondsText(start))
        writer.field("tenant", tenant)
        writer.close()
        return writer.text
    }

    /// `2026-11-27T08:50:01Z`: RFC 3339 to the second, as the file keeps it.
    public static func secondsText(_ date: Date) -> String {
        var text = ""
        RFC3339.withUTF8(date) { bytes in
            // `…:SS.000Z` loses its milliseconds; a time with some keeps them.
            let whole = bytes.count == 24 && bytes[19..<23].elementsEqual(".000".utf8)
            text = whole ? String(decoding: bytes[0..<19], as: UTF8.self) + "Z" : String(decoding: bytes, as: UTF8.self)
        }
        return text
    }
}
