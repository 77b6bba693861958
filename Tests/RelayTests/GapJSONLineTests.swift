import Foundation
import Testing

@testable import Relay

/// `gaps.jsonl` is read with the relay's own parser, and `callrelay gaps --json` written with its
/// own writer: both must agree with the file `JSONEncoder` writes.
@Suite("Gap log lines")
struct GapJSONLineTests {
    @Test("a line JSONEncoder wrote reads back the same, closed or open; garbage and wrong types are skipped")
    func readsEncoderLines() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        let gaps = [
            Gap(
                tenant: "acme", start: start, end: start.addingTimeInterval(12), cause: "the socket closed (1006) \"quoted\" / ✓"),
            Gap(tenant: "acme", start: start, end: nil, cause: "the relay stopped"),
        ]
        for gap in gaps {
            let line = String(decoding: try encoder.encode(gap), as: UTF8.self)
            #expect(Gap(jsonLine: line[...]) == gap)
            // What `gaps --json` writes reads back with JSONDecoder as the same gap.
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            #expect(try decoder.decode(Gap.self, from: Data(gap.jsonLine.utf8)) == gap)
        }
        for bad in [
            "", "{", "[]", #"{"tenant":"acme","cause":"x"}"#, #"{"tenant":"acme","cause":"x","start":"soon"}"#,
            #"{"tenant":"acme","cause":"x","start":"2026-11-27T08:00:00Z","end":5}"#,
        ] {
            #expect(Gap(jsonLine: bad[...]) == nil, "\(bad)")
        }
        #expect(Gap.secondsText(start) == "2026-11-18T11:06:40Z")
    }
}
