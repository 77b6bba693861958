import CallRelayCore
import Foundation

/// Xelion's date forms: `yyyy-MM-dd HH:mm:ss` with no zone (UTC by the vendor's word), and ISO 8601
/// with a `T`, fractional seconds and a zone (`Z`, `+01:00`, `+0100`) also seen. A zone-less date is
/// read in `defaultZone`, never in the machine's local zone.
public enum XelionDate {
    public static func parse(_ text: String, defaultZone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        DateTimeText.parse(text, defaultZone: defaultZone)
    }
}
