import NIOCore
import Testing

@testable import WebSocket

/// Randomised input: the decoder must never crash or hang, whatever the bytes and read boundaries.
@Suite("Randomised decoding")
struct FuzzTests {
    /// A small deterministic generator, so a failure can be replayed from its seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test("arbitrary bytes at arbitrary split points end in messages or a clean failure", arguments: 0..<8)
    func arbitraryBytes(seed: Int) {
        var rng = SplitMix(state: UInt64(seed) &* 7919)
        for _ in 0..<400 {
            let length = Int.random(in: 0..<300, using: &rng)
            // Bias the first bytes toward plausible headers so the decoder gets past them often.
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if length > 2, Bool.random(using: &rng) {
                bytes[0] = [0x81, 0x82, 0x01, 0x80, 0x89, 0x8A, 0x88, 0xC1][Int.random(in: 0..<8, using: &rng)]
            }
            if length > 2, Bool.random(using: &rng) { bytes[1] = UInt8.random(in: 0...127, using: &rng) }
            let splits = (0..<Int.random(in: 0..<6, using: &rng)).map { _ in Int.random(in: 0...max(length, 1), using: &rng) }
            let deflate: NegotiatedDeflate? = Bool.random(using: &rng) ? NegotiatedDeflate() : nil
            var machine = WebSocketConnectionStateMachine(
                role: .client, limits: .init(maxFrameSize: 4096, maxMessageSize: 8192), deflate: deflate)
            var outcome = Outcome()
            var buffer = ByteBuffer()
            machine.feed(bytes, splits: splits, into: &outcome, buffer: &buffer)
            if let code = outcome.failureCode {
                #expect([WebSocketCloseCode.protocolError, .invalidPayload, .messageTooBig].contains(code))
                #expect(machine.state == .closed)
            }
            for case .text(let text) in outcome.messages { #expect(String(validating: Array(text.utf8), as: UTF8.self) != nil) }
        }
    }

    @Test("random valid frame sequences decode identically however they are split", arguments: 0..<4)
    func validSequences(seed: Int) throws {
        var rng = SplitMix(state: UInt64(seed) &+ 42)
        for _ in 0..<100 {
            var frames: [RawFrame] = []
            var expected: [WebSocketMessage] = []
            for _ in 0..<Int.random(in: 1..<6, using: &rng) {
                let text = String((0..<Int.random(in: 0..<300, using: &rng)).map { _ in "aé€😀".randomElement(using: &rng)! })
                let bytes = Array(text.utf8)
                let pieces = Int.random(in: 1...3, using: &rng)
                let cut1 = Int.random(in: 0...bytes.count, using: &rng)
                if pieces == 1 || bytes.count < 2 {
                    frames.append(RawFrame(opcode: 1, payload: bytes))
                } else {
                    frames.append(RawFrame(fin: false, opcode: 1, payload: Array(bytes[..<cut1])))
                    frames.append(RawFrame(opcode: 9, payload: [1, 2, 3]))
                    frames.append(.continuation(Array(bytes[cut1...])))
                }
                expected.append(.text(text))
            }
            let total = frames.flatMap(\.bytes).count
            let splits = (0..<Int.random(in: 0..<8, using: &rng)).map { _ in Int.random(in: 0...total, using: &rng) }
            let outcome = run(frames, splits: splits)
            #expect(outcome.failure == nil)
            #expect(outcome.messages == expected)
        }
    }
}
