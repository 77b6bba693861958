import Foundation
import Testing

@testable import CallRelayCore

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    /// What the C library makes of the same instant: the writer computes the calendar itself.
    func reference(_ milliseconds: Int64) -> String {
        let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds - seconds * 1000))
    }

    @Test("writes the calendar date and time of any instant from 1900 to 9999, leap days and centuries included")
    func matchesCalendar() {
        var generator = SystemRandomNumberGenerator()
        var instants: [Int64] = [
            0, -1, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 1_795_432_131_250, 253_402_300_799_999,
            -2_208_988_800_000,
        ]
        for _ in 0..<20_000 { instants.append(Int64.random(in: -2_208_988_800_000..<253_402_300_800_000, using: &generator)) }
        for milliseconds in instants {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            #expect(RFC3339.string(date) == reference(milliseconds), "\(milliseconds)")
        }
    }

    @Test("a time between milliseconds is rounded down, before 1970 too; a round trip keeps an event's time")
    func subMilliseconds() {
        #expect(RFC3339.string(Date(timeIntervalSince1970: 1.0125)) == "1970-01-01T00:00:01.012Z")
        #expect(RFC3339.string(Date(timeIntervalSince1970: -0.0005)) == "1969-12-31T23:59:59.999Z")
        let now = Date()
        let truncated = RFC3339.truncated(now)
        #expect(RFC3339.parse(RFC3339.string(truncated)) == truncated)
        #expect(RFC3339.truncated(truncated) == truncated)
    }
}
