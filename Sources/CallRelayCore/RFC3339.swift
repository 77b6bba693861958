import Foundation

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-27T08:50:01.123Z`), written without a
/// formatter object: this runs for every timestamp of every event.
public enum RFC3339 {
    public static func string(_ date: Date) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(date, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    package static func append(_ date: Date, to text: inout [UInt8]) {
        withUTF8(date) { text.append(contentsOf: $0) }
    }

    /// Calls `body` with the text of `date`, valid only inside `body`.
    package static func withUTF8(_ date: Date, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        let totalMilliseconds = milliseconds(date)
        let seconds = totalMilliseconds.floorDivided(by: 1000)
        let milliseconds = Int(totalMilliseconds - seconds * 1000)
        let days = seconds.floorDivided(by: 86_400)
        let second = Int(seconds - days * 86_400)
        let (year, month, day) = civil(days: days)
        // Into a buffer on the stack and appended at once: a date is written several times per event,
        // and appending its 24 bytes one by one (with `gmtime_r`) was a few per cent of the pipeline.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            var index = 0
            func put(_ value: Int, _ width: Int) {
                var rest = max(0, value)
                for offset in stride(from: width - 1, through: 0, by: -1) {
                    buffer[index + offset] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                    rest /= 10
                }
                index += width
            }
            func put(_ byte: UInt8) {
                buffer[index] = byte
                index += 1
            }
            put(Int(year), 4)
            put(UInt8(ascii: "-"))
            put(month, 2)
            put(UInt8(ascii: "-"))
            put(day, 2)
            put(UInt8(ascii: "T"))
            put(second / 3600, 2)
            put(UInt8(ascii: ":"))
            put(second / 60 % 60, 2)
            put(UInt8(ascii: ":"))
            put(second % 60, 2)
            put(UInt8(ascii: "."))
            put(milliseconds, 3)
            put(UInt8(ascii: "Z"))
            body(UnsafeBufferPointer(rebasing: buffer[..<index]))
        }
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
    /// `civil_from_days`), which `gmtime_r` computed with a call into the C library and its locks.
    private static func civil(days: Int64) -> (year: Int64, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthIndex + 2) / 5 + 1)
        let month = Int(monthIndex < 10 ? monthIndex + 3 : monthIndex - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Reads an RFC 3339 date-time; the zone (`Z` or an offset) is required.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count > 19,
            text.hasSuffix("Z") || text.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" })
        else { return nil }
        return DateTimeText.parse(text, defaultZone: TimeZone(secondsFromGMT: 0) ?? .current)
    }

    /// Truncates to what the text form keeps, so an event equals itself after a round trip.
    public static func truncated(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }

    /// Whole milliseconds since 1970, rounded down. A time of whole milliseconds is often a hair below
    /// them as a `Double` (`k / 1000` times 1000 is not always `k`), and flooring that lost a
    /// millisecond: within a rounding error of the next millisecond counts as it.
    package static func milliseconds(_ date: Date) -> Int64 {
        let value = date.timeIntervalSince1970 * 1000
        let nearest = value.rounded()
        let tolerance = max(0.001, abs(value) * 1e-15)
        return Int64(abs(value - nearest) <= tolerance ? nearest : value.rounded(.down))
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
