import Foundation

/// A date and time as `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-ddTHH:mm:ss`, with optional fractional
/// seconds and an optional zone (`Z`, `+01:00`, `+0100`): the forms providers send. A date with no
/// zone is read in the zone the caller names, never in the machine's local zone.
package enum DateTimeText {
    /// The date `text` names, or nil when it is not one of the forms or not a real date and time.
    package static func parse(_ text: String, defaultZone: TimeZone) -> Date? {
        text.withUTF8Bytes { parse($0, defaultZone: defaultZone) }
    }

    /// 28 to 31, leap years by the Gregorian rule.
    package static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func parse(_ scalars: UnsafeBufferPointer<UInt8>, defaultZone: TimeZone) -> Date? {
        func number(_ start: Int, _ length: Int) -> Int? {
            guard start + length <= scalars.count else { return nil }
            var value = 0
            for byte in scalars[start..<(start + length)] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard scalars.count >= 19,
            let year = number(0, 4), scalars[4] == 0x2D, let month = number(5, 2), scalars[7] == 0x2D,
            let day = number(8, 2), scalars[10] == 0x20 || scalars[10] == 0x54,
            let hour = number(11, 2), scalars[13] == 0x3A, let minute = number(14, 2), scalars[16] == 0x3A,
            let second = number(17, 2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == 0x2E {
            index += 1
            var scale = 0.1
            while index < scalars.count, scalars[index] >= 0x30 && scalars[index] <= 0x39 {
                fraction += Double(scalars[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
        }
        var zone = defaultZone
        if index < scalars.count {
            let rest = String(decoding: UnsafeBufferPointer(rebasing: scalars[index...]), as: UTF8.self)
            if rest == "Z" {
                zone = TimeZone(secondsFromGMT: 0)!
            } else if let sign = rest.first, sign == "+" || sign == "-" {
                let digits = rest.dropFirst().filter { $0 != ":" }
                guard digits.count == 4, let value = Int(digits), value / 100 < 24, value % 100 < 60 else { return nil }
                let seconds = (value / 100 * 3600 + value % 100 * 60) * (sign == "-" ? -1 : 1)
                guard let parsed = TimeZone(secondsFromGMT: seconds) else { return nil }
                zone = parsed
            } else {
                return nil
            }
        }
        // timegm, not Calendar: this runs for every event, and Calendar costs microseconds a call. It
        // rolls an impossible date (February 31) over into the next month, which is refused above.
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let wallClock = TimeInterval(timegm(&parts))
        // The zone's offset at that wall-clock time, taken twice so a date next to a DST change is right.
        let guess = zone.secondsFromGMT(for: Date(timeIntervalSince1970: wallClock))
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: wallClock - TimeInterval(guess)))
        return Date(timeIntervalSince1970: wallClock - TimeInterval(offset) + fraction)
    }
}
