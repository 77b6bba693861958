import Foundation
import Xelion

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-27T08:50:01.123Z`), written without a
/// formatter object: this runs for every timestamp of every event.
public enum RFC3339 {
    public static func string(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    static func append(_ date: Date, to text: inout [UInt8]) {
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(totalMilliseconds.floorDivided(by: 1000))
        let milliseconds = Int(totalMilliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        pad(Int(parts.tm_year) + 1900, 4, &text)
        text.append(UInt8(ascii: "-"))
        pad(Int(parts.tm_mon) + 1, 2, &text)
        text.append(UInt8(ascii: "-"))
        pad(Int(parts.tm_mday), 2, &text)
        text.append(UInt8(ascii: "T"))
        pad(Int(parts.tm_hour), 2, &text)
        text.append(UInt8(ascii: ":"))
        pad(Int(parts.tm_min), 2, &text)
        text.append(UInt8(ascii: ":"))
        pad(Int(parts.tm_sec), 2, &text)
        text.append(UInt8(ascii: "."))
        pad(milliseconds, 3, &text)
        text.append(UInt8(ascii: "Z"))
    }

    /// `value` in exactly `width` decimal digits (values here never need more).
    private static func pad(_ value: Int, _ width: Int, _ text: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = max(0, value)
        while divisor > 0 {
            text.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }

    /// Reads an RFC 3339 date-time; the zone (`Z` or an offset) is required.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count > 19,
            text.hasSuffix("Z") || text.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" })
        else { return nil }
        return XelionDate.parse(text)
    }

    /// Truncates to what the text form keeps, so an event equals itself after a round trip.
    public static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
