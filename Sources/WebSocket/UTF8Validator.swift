/// Incremental UTF-8 validation (RFC 3629), resumable across fragments and partial reads, so that
/// invalid text is rejected as soon as the offending byte arrives rather than when the message ends.
///
/// The state is three bytes: how many continuation bytes are still due and the range the next one
/// must fall in (which is how overlong forms, surrogates and code points above U+10FFFF are excluded).
///
/// Its verdict is exactly the standard library's (a test compares the two on random bytes), which is
/// what lets ``WebSocketConnectionStateMachine`` make a `String` of the bytes it accepted without the
/// standard library validating them a second time.
public struct UTF8Validator: Sendable, Equatable {
    private var pending: UInt8 = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF
    /// False once a byte above 0x7F has been accepted.
    public private(set) var isASCII = true

    public init() {}

    /// True when the bytes so far end on a character boundary.
    public var isAtCharacterBoundary: Bool { pending == 0 }

    /// Feeds more bytes; returns false as soon as they cannot be part of valid UTF-8.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if pending == 0 {
                // ASCII fast path: eight bytes at a time while no high bit is set.
                while index &+ 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index &+= 8
                }
                guard index < count else { return true }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index &+= 1
                if byte < 0x80 { continue }
                if !start(byte) { return false }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index &+= 1
                guard byte >= lower && byte <= upper else { return false }
                pending &-= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Convenience for tests and small inputs.
    public mutating func feed<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        let array = Array(bytes)
        return array.withUnsafeBytes { feed($0) }
    }

    private mutating func start(_ byte: UInt8) -> Bool {
        isASCII = false
        switch byte {
        case 0xC2...0xDF: pending = 1
        case 0xE0: (pending, lower) = (2, 0xA0)
        case 0xE1...0xEC, 0xEE...0xEF: pending = 2
        case 0xED: (pending, upper) = (2, 0x9F)  // excludes UTF-16 surrogates
        case 0xF0: (pending, lower) = (3, 0x90)
        case 0xF1...0xF3: pending = 3
        case 0xF4: (pending, upper) = (3, 0x8F)  // nothing above U+10FFFF
        default: return false  // continuation byte, overlong lead (C0, C1) or F5...FF
        }
        return true
    }
}

extension UTF8Validator {
    /// Whether a whole text is UTF-8; `isASCII` then tells whether every byte is below 0x80.
    static func validate(_ bytes: UnsafeRawBufferPointer) -> (valid: Bool, isASCII: Bool) {
        var validator = UTF8Validator()
        let valid = validator.feed(bytes) && validator.isAtCharacterBoundary
        return (valid, validator.isASCII)
    }

    /// The `String` of bytes that ``validate(_:)``, or a validator fed all of them and ending at a
    /// character boundary, accepted. They are not validated again: the standard library's
    /// `String(validating:)` would cost more than the validation that already happened.
    static func string(ofValidated bytes: UnsafeRawBufferPointer, isASCII: Bool) -> String {
        bytes.withMemoryRebound(to: UInt8.self) { codeUnits in
            String(copying: UTF8Span(unchecked: codeUnits.span, isKnownASCII: isASCII))
        }
    }
}
