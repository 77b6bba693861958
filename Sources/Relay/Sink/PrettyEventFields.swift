import Foundation

/// The fields a readable line shows, found in an event's JSON in one pass that makes nothing of the
/// rest: `callrelay tail` reads a million rows, and building each row's tree (forty-odd keys, four
/// objects) was most of its time. Nil when a shown string has an escape, or the text is not an
/// object of the expected shape; the caller then reads the row with the strict parser.
struct PrettyEventFields {
    struct Party {
        var user: String?
        var name: String?
        var number: String?
        var numberE164: String?
        var contactRef: String?
    }

    var type: String?
    var time: String?
    var tenant: String?
    var callId: String?
    var direction: String?
    var durationText: String?
    var missedReason: String?
    var caller: Party?
    var callee: Party?
    var transfer: (party: Party, from: Party, to: Party)?

    init?(json: String) {
        var text = json
        let fields: PrettyEventFields? = text.withUTF8 { bytes in
            var scanner = Scanner(bytes: bytes)
            var fields = PrettyEventFields()
            guard scanner.envelope(into: &fields) else { return nil }
            scanner.skipWhitespace()
            return scanner.index == bytes.count ? fields : nil
        }
        guard let fields else { return nil }
        self = fields
    }

    private init() {}

    /// A forward-only reader over the bytes; every access is bounds-checked, and any surprise ends
    /// the scan with `false`.
    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        var depth = 0
        static let maxDepth = 128

        enum Member {
            case key(Range<Int>)
            case end
            case failure
        }

        /// Reads an object, handing each key to `visit` with the scanner at its value, which `visit`
        /// reads (or skips); false when the object or `visit` fails.
        mutating func members(_ visit: (inout Scanner, Range<Int>) -> Bool) -> Bool {
            guard open() else { return false }
            var first = true
            while true {
                switch nextMember(&first) {
                case .failure: return false
                case .end: return true
                case .key(let key): guard visit(&self, key) else { return false }
                }
            }
        }

        mutating func envelope(into fields: inout PrettyEventFields) -> Bool {
            members { scanner, key in
                if scanner.matches(key, "type") { return scanner.optionalString(&fields.type) && fields.type != nil }
                if scanner.matches(key, "time") { return scanner.optionalString(&fields.time) && fields.time != nil }
                if scanner.matches(key, "data") { return scanner.data(into: &fields) }
                return scanner.skipValue()
            }
        }

        mutating func data(into fields: inout PrettyEventFields) -> Bool {
            members { scanner, key in
                if scanner.matches(key, "tenant") { return scanner.optionalString(&fields.tenant) }
                if scanner.matches(key, "call_id") { return scanner.optionalString(&fields.callId) }
                if scanner.matches(key, "direction") { return scanner.optionalString(&fields.direction) }
                if scanner.matches(key, "missed_reason") { return scanner.optionalString(&fields.missedReason) }
                if scanner.matches(key, "duration_seconds") { return scanner.optionalNumber(&fields.durationText) }
                if scanner.matches(key, "caller") { return scanner.optionalParty(&fields.caller) }
                if scanner.matches(key, "callee") { return scanner.optionalParty(&fields.callee) }
                if scanner.matches(key, "transfer") { return scanner.transfer(into: &fields.transfer) }
                return scanner.skipValue()
            }
        }

        mutating func transfer(into transfer: inout (party: Party, from: Party, to: Party)?) -> Bool {
            optionalObject(&transfer, empty: (Party(), Party(), Party())) { scanner, parties in
                scanner.members { scanner, key in
                    if scanner.matches(key, "party") { return scanner.party(into: &parties.party) }
                    if scanner.matches(key, "from") { return scanner.party(into: &parties.from) }
                    if scanner.matches(key, "to") { return scanner.party(into: &parties.to) }
                    return scanner.skipValue()
                }
            }
        }

        /// A party of a transfer: an object's fields, or none for anything else.
        mutating func party(into party: inout Party) -> Bool {
            var read: Party?
            guard optionalParty(&read) else { return false }
            party = read ?? Party()
            return true
        }

        /// A party object; anything else (`null`) leaves it nil.
        mutating func optionalParty(_ party: inout Party?) -> Bool {
            optionalObject(&party, empty: Party()) { scanner, party in scanner.partyMembers(into: &party) }
        }

        /// An object read by `read` into `empty`; anything else (`null`) leaves `field` nil.
        mutating func optionalObject<Value>(
            _ field: inout Value?, empty: Value, _ read: (inout Scanner, inout Value) -> Bool
        ) -> Bool {
            guard peek() == UInt8(ascii: "{") else {
                field = nil
                return skipValue()
            }
            var value = empty
            guard read(&self, &value) else { return false }
            field = value
            return true
        }

        mutating func partyMembers(into result: inout Party) -> Bool {
            members { scanner, key in
                if scanner.matches(key, "user") { return scanner.optionalString(&result.user) }
                if scanner.matches(key, "name") { return scanner.optionalString(&result.name) }
                if scanner.matches(key, "number") { return scanner.optionalString(&result.number) }
                if scanner.matches(key, "number_e164") { return scanner.optionalString(&result.numberE164) }
                if scanner.matches(key, "contact_ref") { return scanner.optionalString(&result.contactRef) }
                return scanner.skipValue()
            }
        }

        /// A string value is taken; any other value leaves the field nil, as the strict reader's
        /// `.text` would.
        mutating func optionalString(_ field: inout String?) -> Bool {
            if peek() == UInt8(ascii: "\"") {
                guard let value = string() else { return false }
                field = value
                return true
            }
            field = nil
            return skipValue()
        }

        mutating func optionalNumber(_ field: inout String?) -> Bool {
            guard let byte = peek(), byte == UInt8(ascii: "-") || isDigit(byte) else {
                field = nil
                return skipValue()
            }
            let start = index
            guard number() else { return false }
            field = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return true
        }

        func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func open() -> Bool {
            skipWhitespace()
            guard peek() == UInt8(ascii: "{") else { return false }
            depth += 1
            guard depth <= Self.maxDepth else { return false }
            index += 1
            return true
        }

        /// The next key of the object opened last, the scanner then at its value; `.end` past its `}`.
        mutating func nextMember(_ first: inout Bool) -> Member {
            skipWhitespace()
            guard let byte = peek() else { return .failure }
            if byte == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .end
            }
            if !first {
                guard byte == UInt8(ascii: ",") else { return .failure }
                index += 1
                skipWhitespace()
            }
            first = false
            guard peek() == UInt8(ascii: "\"") else { return .failure }
            index += 1
            let start = index
            guard skipStringBody(), index - 1 >= start else { return .failure }
            let key = start..<(index - 1)
            // An escaped key is left to the strict reader, which unescapes it.
            guard !bytes[key].contains(UInt8(ascii: "\\")) else { return .failure }
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { return .failure }
            index += 1
            skipWhitespace()
            return .key(key)
        }

        /// A string without escapes or control characters, as a `String`; nil otherwise.
        mutating func string() -> String? {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { return nil }
            index += 1
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return value
                }
                guard byte != UInt8(ascii: "\\"), byte >= 0x20 else { return nil }
                index += 1
            }
            return nil
        }

        /// Past the closing quote of a string whose opening quote is behind; escapes are stepped over.
        mutating func skipStringBody() -> Bool {
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return true }
                if byte == UInt8(ascii: "\\") {
                    guard index < bytes.count else { return false }
                    index += 1
                } else if byte < 0x20 {
                    return false
                }
            }
            return false
        }

        mutating func skipValue() -> Bool {
            skipWhitespace()
            guard let byte = peek() else { return false }
            switch byte {
            case UInt8(ascii: "{"):
                return members { scanner, _ in scanner.skipValue() }
            case UInt8(ascii: "["):
                depth += 1
                guard depth <= Self.maxDepth else { return false }
                index += 1
                skipWhitespace()
                if peek() == UInt8(ascii: "]") {
                    index += 1
                    depth -= 1
                    return true
                }
                while true {
                    guard skipValue() else { return false }
                    skipWhitespace()
                    guard let next = peek() else { return false }
                    index += 1
                    if next == UInt8(ascii: "]") {
                        depth -= 1
                        return true
                    }
                    guard next == UInt8(ascii: ",") else { return false }
                }
            case UInt8(ascii: "\""):
                index += 1
                return skipStringBody()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }

        /// A JSON number (RFC 8259's grammar).
        mutating func number() -> Bool {
            if peek() == UInt8(ascii: "-") { index += 1 }
            guard let first = peek(), isDigit(first) else { return false }
            index += 1
            if first != UInt8(ascii: "0") { digits() }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard let next = peek(), isDigit(next) else { return false }
                digits()
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                guard let next = peek(), isDigit(next) else { return false }
                digits()
            }
            return true
        }

        mutating func digits() {
            while let byte = peek(), isDigit(byte) { index += 1 }
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        func matches(_ key: Range<Int>, _ name: StaticString) -> Bool {
            guard key.count == name.utf8CodeUnitCount else { return false }
            for (offset, position) in key.enumerated() where bytes[position] != name.utf8Start[offset] { return false }
            return true
        }
    }
}
