/// A strict RFC 8259 parser into ``JSONValue``, over UTF-8 bytes.
///
/// Written here rather than going through `JSONDecoder`: decoding an unknown shape with `Codable`
/// tries each type in turn and throws on every miss, and every event passes through this parser.
package struct JSONParser {
    package struct Failure: Error, Sendable, Equatable {
        package var offset: Int
        package var reason: String
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private var depth = 0
    /// The members of the objects being read, innermost last: each object's dictionary is made once
    /// at its size when it closes, instead of growing (and rehashing) member by member.
    private var members: [(key: String, value: JSONValue)] = []
    /// The top-level key whose object ``parseObject(_:expanding:)`` keeps apart, and its members.
    private var expanding: String?
    /// Where the expanded object's members are in `members` (`nil` when it was not an object).
    private var expanded: Range<Int>?
    /// Keys whose `String` is taken from here instead of made anew.
    private var knownKeys: KeyTable?
    private static let maxDepth = 128

    package static func parse(_ text: String) throws(Failure) -> JSONValue {
        try parseWhole(text) { parser throws(Failure) in try parser.value() }
    }

    /// The reason ``parseObject(_:expanding:)`` gives for JSON that is not an object.
    package static let notAnObject = "not a JSON object"

    /// A top-level object as its members, with the members of the object under `expanded` (if it is
    /// one) apart, as ``JSONObjectMembers`` (sorted, the last of a repeated key kept). For the
    /// socket's messages, whose notification is read field by field and hashed in key order: a
    /// dictionary of it was built only to be searched twenty times and sorted again. Keys found in
    /// `knownKeys` share its `String`s.
    package static func parseObject(
        _ text: String, expanding expanded: String, knownKeys: KeyTable? = nil
    ) throws(Failure) -> (members: JSONObjectMembers, expanded: JSONObjectMembers?) {
        try parseWhole(text) { parser throws(Failure) in
            guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
                // Not JSON at all, or JSON but not an object: callers tell the two apart.
                _ = try parser.value()
                parser.skipWhitespace()
                guard parser.index == parser.bytes.count else { throw parser.failure("text after the JSON value") }
                throw Failure(offset: 0, reason: notAnObject)
            }
            parser.expanding = expanded
            parser.knownKeys = knownKeys
            // Room for a PBX message's members (about twenty) at once, rather than regrowing the array
            // several times per message; 24 stay under the allocation size glibc serves from its
            // per-thread cache.
            parser.members.reserveCapacity(24)
            try parser.objectMembers()
            // The expanded object's members were left where they were parsed, to be sorted from there
            // rather than copied out first; its key then stands in for them.
            guard let range = parser.expanded else { return (JSONObjectMembers(parser.members[...]), nil) }
            let members = JSONObjectMembers(parser.members[range])
            parser.members.replaceSubrange(range, with: CollectionOfOne((key: expanded, value: JSONValue.null)))
            return (JSONObjectMembers(parser.members[...]), members)
        }
    }

    /// Runs `body` on the whole of `text`, which must hold one value and nothing after it.
    private static func parseWhole<Value>(
        _ text: String, _ body: (inout JSONParser) throws(Failure) -> Value
    ) throws(Failure) -> Value {
        var copy = text
        // `withUTF8` rethrows untyped errors; only `Failure` can come out of the closure.
        let result: Result<Value, Failure> = copy.withUTF8 { buffer in
            var parser = JSONParser(bytes: buffer)
            parser.skipWhitespace()
            do throws(Failure) {
                let value = try body(&parser)
                parser.skipWhitespace()
                guard parser.index == buffer.count else { return .failure(parser.failure("text after the JSON value")) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    private func failure(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        guard index < bytes.count else { throw failure("unexpected end") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw failure("invalid literal")
        }
        index += count
    }

    private mutating func object() throws(Failure) -> JSONValue {
        let first = members.count
        defer { members.removeSubrange(first...) }
        try objectMembers()
        var result = [String: JSONValue](minimumCapacity: members.count - first)
        // A repeated key keeps its last value, as most parsers do.
        for member in members[first...] { result[member.key] = member.value }
        return .object(result)
    }

    /// Reads an object and appends its members to `members`, in document order. In the top-level
    /// object, the members of the object under `expanding` are appended in its place, and `expanded`
    /// says where they are (the last of a repeated key counts).
    private mutating func objectMembers() throws(Failure) {
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested too deeply") }
        defer { depth -= 1 }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let key = try string(knownKeys)
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':'") }
            index += 1
            skipWhitespace()
            if depth == 1, let expanding, key == expanding {
                // A repeated key: the last counts, and an earlier object's members give way to a null.
                if let earlier = expanded { members.replaceSubrange(earlier, with: CollectionOfOne((key, .null))) }
                if index < bytes.count, bytes[index] == UInt8(ascii: "{") {
                    let first = members.count
                    try objectMembers()
                    expanded = first..<members.count
                } else {
                    expanded = nil
                    members.append((key, try value()))
                }
            } else {
                let member = try value()
                members.append((key, member))
            }
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return
            } else {
                throw failure("expected ',' or '}'")
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        depth += 1
        guard depth <= Self.maxDepth else { throw failure("nested too deeply") }
        defer { depth -= 1 }
        index += 1
        var result: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(result)
        }
        while true {
            skipWhitespace()
            result.append(try value())
            skipWhitespace()
            guard index < bytes.count else { throw failure("unexpected end") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
            } else if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(result)
            } else {
                throw failure("expected ',' or ']'")
            }
        }
    }

    /// A string; one of `knownKeys` is that table's `String` when written without escapes (an escaped
    /// one is a new string, which compares equal all the same).
    private mutating func string(_ knownKeys: KeyTable? = nil) throws(Failure) -> String {
        index += 1
        let start = index
        // Fast path: no escapes, so the bytes are the string (the input is already valid UTF-8).
        index = JSONStringBytes.firstSpecial(in: bytes, from: index)
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            let utf8 = UnsafeBufferPointer(rebasing: bytes[start..<index])
            let text = knownKeys?.find(utf8)?.name ?? String(decoding: utf8, as: UTF8.self)
            index += 1
            return text
        }
        if index < bytes.count, bytes[index] < 0x20 { throw failure("control character in a string") }
        var scalars = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: scalars, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw failure("unexpected end") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escaped)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code) {
                        // A high surrogate must be followed by an escaped low one.
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                        else { throw failure("lone surrogate") }
                        index += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("lone surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw failure("lone surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw failure("invalid \\u escape") }
                    scalars.append(contentsOf: String(Character(scalar)).utf8)
                default:
                    throw failure("invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw failure("control character in a string") }
                scalars.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("unexpected end") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    private mutating func number() throws(Failure) -> JSONNumber {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid value") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw failure("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        // Kept as text: converting here would round integers past 2^53.
        return JSONNumber(validated: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
}

extension JSONValue {
    /// Parses JSON text strictly (RFC 8259); nil when it is not JSON.
    public init?(json text: String) {
        guard let value = try? JSONParser.parse(text) else { return nil }
        self = value
    }
}
