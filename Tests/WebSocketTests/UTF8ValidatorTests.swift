import Testing

@testable import WebSocket

@Suite("UTF-8 validation")
struct UTF8ValidatorTests {
    static let valid: [[UInt8]] = [
        Array("plain ascii that is longer than eight bytes".utf8),
        Array("κόσμε".utf8),
        Array("€ 𝄞 中文 emoji 😀".utf8),
        [0xF4, 0x8F, 0xBF, 0xBF],  // U+10FFFF
        [0xEF, 0xBF, 0xBF],  // U+FFFF
        [0xED, 0x9F, 0xBF],  // U+D7FF, just below the surrogates
        [0xEE, 0x80, 0x80],  // U+E000, just above them
        [],
    ]

    static let invalid: [[UInt8]] = [
        [0xC0, 0x80],  // overlong NUL
        [0xC1, 0xBF],  // overlong
        [0xE0, 0x80, 0x80],  // overlong three-byte
        [0xF0, 0x80, 0x80, 0x80],  // overlong four-byte
        [0xED, 0xA0, 0x80],  // surrogate U+D800
        [0xED, 0xBF, 0xBF],  // surrogate U+DFFF
        [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
        [0xF5, 0x80, 0x80, 0x80],
        [0xFF],
        [0x80],  // lone continuation
        [0x61, 0x62, 0xCE, 0x61],  // lead byte then ASCII
        Array("κόσμε".utf8) + [0xED, 0xA0, 0x80] + Array("edited".utf8),
    ]

    @Test("accepts valid text whole and split at every point", arguments: valid)
    func acceptsValid(bytes: [UInt8]) {
        for split in 0...bytes.count {
            var validator = UTF8Validator()
            let first = validator.feed(bytes[..<split])
            let second = validator.feed(bytes[split...])
            #expect(first && second && validator.isAtCharacterBoundary, "split at \(split)")
        }
    }

    @Test("rejects invalid text whole and split at every point", arguments: invalid)
    func rejectsInvalid(bytes: [UInt8]) {
        for split in 0...bytes.count {
            var validator = UTF8Validator()
            let ok = validator.feed(bytes[..<split]) && validator.feed(bytes[split...])
            #expect(!ok, "split at \(split)")
        }
    }

    @Test("a truncated sequence is valid so far but not at a character boundary")
    func truncated() {
        var validator = UTF8Validator()
        let start = validator.feed([0xE2, 0x82])
        #expect(start && !validator.isAtCharacterBoundary)
        let end = validator.feed([0xAC])
        #expect(end && validator.isAtCharacterBoundary)
    }

    @Test("agrees with the standard library on random bytes")
    func agreesWithStandardLibrary() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = [
            0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xA0, 0x9F, 0x90, 0x8F,
        ]
        for _ in 0..<5000 {
            let length = Int.random(in: 0..<24, using: &generator)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            var validator = UTF8Validator()
            let ours = validator.feed(bytes) && validator.isAtCharacterBoundary
            #expect(ours == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
    }

    /// The strings the state machine hands out are made without the standard library validating them
    /// again, so our verdict must be exactly its verdict — also for long texts where the eight-byte
    /// ASCII path runs, and for any byte value.
    @Test("makes the standard library's string, or refuses what it refuses, on random texts")
    func stringsAgreeWithStandardLibrary() {
        var generator = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [
            Array("plain ascii run of some length ".utf8), Array("Ødegård".utf8), Array("😀".utf8), [0xED, 0xA0, 0x80],
            [0xF4, 0x90], [0xC3], [0x80], [0xFF], [0x7F],
        ]
        for round in 0..<5000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0..<12, using: &generator) {
                if round % 2 == 0 {
                    bytes += pieces.randomElement(using: &generator)!
                } else {
                    bytes.append(UInt8.random(in: 0...255, using: &generator))
                }
            }
            let verdict = bytes.withUnsafeBytes(UTF8Validator.validate)
            let theirs = String(validating: bytes, as: UTF8.self)
            #expect(verdict.valid == (theirs != nil), "\(bytes)")
            if verdict.valid {
                let ours = bytes.withUnsafeBytes { UTF8Validator.string(ofValidated: $0, isASCII: verdict.isASCII) }
                #expect(ours == theirs)
                #expect(Array(ours.utf8) == bytes)
                #expect(verdict.isASCII == bytes.allSatisfy { $0 < 0x80 })
            }
        }
    }
}
