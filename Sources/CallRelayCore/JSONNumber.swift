/// A JSON number kept as the text it came in, so that an integer past 2^53 keeps every digit and a
/// value no integer type can hold (`1e300`) is carried along instead of converted.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number in JSON syntax (RFC 8259 §6).
    public let text: String

    /// A number parsed from JSON: `text` must already be valid JSON number syntax.
    init(validated text: String) { self.text = text }

    /// A number made here. A non-finite value, which JSON cannot express, becomes 0.
    public init(_ value: Double) {
        guard value.isFinite else {
            text = "0"
            return
        }
        if let whole = Int64(exactly: value), abs(whole) < 1_000_000_000_000_000 {
            text = String(whole)
        } else {
            text = String(value)
        }
    }

    public init(_ value: Int) { text = String(value) }

    public init(integerLiteral value: Int) { self.init(value) }

    /// The nearest `Double` (infinite for a magnitude past its range).
    public var double: Double { Double(text) ?? 0 }

    /// The value as an `Int` when it is a whole number that fits exactly; nil otherwise.
    public var integer: Int? {
        if let whole = Int(text) { return whole }
        // `1e3`, `-2.0`: whole numbers written another way.
        guard let value = Double(text), value.rounded() == value, abs(value) < 1e15 else { return nil }
        return Int(exactly: value)
    }

    public var description: String { text }
}
