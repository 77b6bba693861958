import Foundation

/// Any JSON value, kept as it came, so unknown fields survive decoding.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(JSONNumber(value))
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if let whole = value.integer {
                try container.encode(whole)
            } else {
                try container.encode(value.double)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value as text, leniently: strings as they are, numbers without a needless `.0`,
    /// booleans as `true`/`false`; nil for null, arrays and objects.
    public var text: String? {
        switch self {
        case .string(let value): return value
        case .number(let value): return value.integer.map(String.init) ?? value.text
        case .bool(let value): return value ? "true" : "false"
        default: return nil
        }
    }

    /// The value as a whole number, leniently: numbers, and strings that hold one. Nil for anything
    /// that does not fit an `Int` exactly (`1e300`, `99999999999999999999`, `1.5`): such a value
    /// stays in the event's `raw` as it came, and out of its typed fields.
    public var integer: Int? {
        switch self {
        case .number(let value): return value.integer
        case .string(let value):
            if let whole = Int(value) { return whole }
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if let whole = Int(trimmed) { return whole }
            guard let number = Double(trimmed), number.rounded() == number, abs(number) < 1e15 else { return nil }
            return Int(exactly: number)
        default: return nil
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByNilLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
