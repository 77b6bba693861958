import NIOCore
import Testing

@testable import WebSocket

@Suite("permessage-deflate")
struct DeflateTests {
    static let agreements: [NegotiatedDeflate] = [
        NegotiatedDeflate(),
        NegotiatedDeflate(peerNoContextTakeover: true),
        NegotiatedDeflate(localNoContextTakeover: true),
        NegotiatedDeflate(peerMaxWindowBits: 9),
        NegotiatedDeflate(peerMaxWindowBits: 10, localMaxWindowBits: 11),
        NegotiatedDeflate(
            peerNoContextTakeover: true, localNoContextTakeover: true, peerMaxWindowBits: 12, localMaxWindowBits: 9),
    ]

    /// A server-role machine compresses; a client-role machine with the mirrored agreement inflates.
    @Test("round-trips messages under every parameter combination", arguments: agreements)
    func roundTrip(agreement: NegotiatedDeflate) throws {
        var server = WebSocketConnectionStateMachine(role: .server, deflate: agreement.mirrored)
        var client = WebSocketConnectionStateMachine(role: .client, deflate: agreement)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        let texts = (0..<20).map {
            #"{"notificationType":"callHungUpEvent","seq":\#($0),"pad":"\#(String(repeating: "abc", count: $0 * 40))"}"#
        }
        for text in texts {
            let frame = try server.send(.text(text))
            #expect(frame.getInteger(at: 0, as: UInt8.self)! & 0x40 != 0, "RSV1 marks a compressed message")
            buffer.writeImmutableBuffer(frame)
            client.drain(&buffer, into: &outcome)
        }
        #expect(outcome.failure == nil)
        #expect(outcome.messages == texts.map { .text($0) })
        // And the other way: what the client compresses, the server inflates.
        var decoded = Outcome()
        for text in texts {
            var frame = try client.send(.text(text))
            server.drain(&frame, into: &decoded)
        }
        #expect(decoded.messages == texts.map { .text($0) })
    }

    @Test("inflates a compressed message sent in fragments")
    func fragmentedCompressed() throws {
        let agreement = NegotiatedDeflate()
        let deflater = Deflater(windowBits: 15, memoryLevel: 8, level: 6)
        let text = String(repeating: "fragmented and compressed ", count: 50)
        var compressed = ByteBuffer()
        Array(text.utf8).withUnsafeBytes { deflater.compress($0, into: &compressed) }
        let bytes = Array(compressed.readableBytesView)
        let third = bytes.count / 3
        let outcome = run(
            [
                RawFrame(fin: false, rsv: 0x40, opcode: 1, payload: Array(bytes[..<third])),
                RawFrame(opcode: 9, payload: [7]),
                .continuation(Array(bytes[third..<(2 * third)]), fin: false),
                .continuation(Array(bytes[(2 * third)...])),
            ],
            deflate: agreement
        )
        #expect(outcome.failure == nil)
        #expect(outcome.messages == [.text(text)])
        #expect(outcome.sent.count == 1)
    }

    @Test("keeps no decompressor on an idle connection when the peer resets its context")
    func idleMemory() throws {
        for takeover in [false, true] {
            let agreement = NegotiatedDeflate(peerNoContextTakeover: !takeover)
            var server = WebSocketConnectionStateMachine(role: .server, deflate: agreement.mirrored)
            var client = WebSocketConnectionStateMachine(role: .client, deflate: agreement)
            let before = client.holdsInflater
            #expect(!before, "nothing is allocated before the first compressed message")
            var outcome = Outcome()
            var frame = try server.send(.text(String(repeating: "call event ", count: 100)))
            client.drain(&frame, into: &outcome)
            let during = client.holdsInflater
            #expect(outcome.messages.count == 1 && during)
            client.releaseIdleResources()
            let after = client.holdsInflater
            #expect(after == takeover, "with context takeover the window must be kept")
        }
    }

    @Test("small messages go out uncompressed, larger ones compressed")
    func threshold() throws {
        var client = WebSocketConnectionStateMachine(role: .client, deflate: NegotiatedDeflate(compressionThreshold: 100))
        let small = try client.send(.text(String(repeating: "a", count: 99)))
        let large = try client.send(.text(String(repeating: "a", count: 100)))
        #expect(small.getInteger(at: 0, as: UInt8.self)! & 0x40 == 0)
        #expect(large.getInteger(at: 0, as: UInt8.self)! & 0x40 != 0)
        #expect(large.readableBytes < 50)
    }

    @Test("a peer that asked for an 8-bit window gets uncompressed messages")
    func eightBitWindow() throws {
        var client = WebSocketConnectionStateMachine(
            role: .client, deflate: NegotiatedDeflate(localMaxWindowBits: 0, compressionThreshold: 0))
        let frame = try client.send(.text(String(repeating: "a", count: 1000)))
        #expect(frame.getInteger(at: 0, as: UInt8.self)! & 0x40 == 0)
    }

    @Test("RSV1 is a protocol error without the extension, on continuations and on control frames")
    func rsv1Misuse() {
        #expect(run([RawFrame(rsv: 0x40, opcode: 1, payload: [0x61])]).failureCode == .protocolError)
        let agreement = NegotiatedDeflate()
        #expect(
            run(
                [RawFrame(fin: false, opcode: 1, payload: [0x61]), RawFrame(rsv: 0x40, opcode: 0, payload: [0x61])],
                deflate: agreement
            ).failureCode == .protocolError)
        #expect(run([RawFrame(rsv: 0x40, opcode: 9, payload: [])], deflate: agreement).failureCode == .protocolError)
    }

    @Test("a small message that inflates past the limit closes with 1009 and stops at the limit")
    func bomb() throws {
        let deflater = Deflater(windowBits: 15, memoryLevel: 8, level: 9)
        let zeros = [UInt8](repeating: 0, count: 8 << 20)
        var compressed = ByteBuffer()
        zeros.withUnsafeBytes { deflater.compress($0, into: &compressed) }
        #expect(compressed.readableBytes < 16 * 1024, "8 MiB of zeros compresses to a few KiB")
        let limits = WebSocketConnectionStateMachine.Limits(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20)
        let outcome = run(
            [RawFrame(rsv: 0x40, opcode: 2, payload: Array(compressed.readableBytesView))], limits: limits,
            deflate: NegotiatedDeflate())
        #expect(outcome.failureCode == .messageTooBig)
        #expect(closeCode(of: outcome.failureFrame) == 1009)
    }

    @Test("the inflater never writes past its limit")
    func inflaterCap() throws {
        let deflater = Deflater(windowBits: 15, memoryLevel: 8, level: 9)
        var compressed = ByteBuffer()
        [UInt8](repeating: 7, count: 200_000).withUnsafeBytes { deflater.compress($0, into: &compressed) }
        let inflater = Inflater(windowBits: 15)
        var output = ByteBuffer()
        #expect(throws: InflateError.tooLarge) {
            try compressed.withUnsafeReadableBytes { try inflater.inflate($0, endOfMessage: true, into: &output, limit: 50_000) }
        }
        #expect(output.readableBytes <= 50_001)
    }

    @Test("corrupt compressed data is a protocol error, not a crash")
    func corrupt() {
        let outcome = run(
            [RawFrame(rsv: 0x40, opcode: 1, payload: [0xFF, 0xFF, 0xFF, 0xFF, 0x00])], deflate: NegotiatedDeflate())
        #expect(outcome.failureCode == .protocolError)
    }

    @Test("compressed text with invalid UTF-8 closes with 1007")
    func compressedInvalidText() {
        let deflater = Deflater(windowBits: 15, memoryLevel: 8, level: 6)
        var compressed = ByteBuffer()
        ([0x61, 0x62] + [0xED, 0xA0, 0x80]).withUnsafeBytes { deflater.compress($0, into: &compressed) }
        let outcome = run(
            [RawFrame(rsv: 0x40, opcode: 1, payload: Array(compressed.readableBytesView))], deflate: NegotiatedDeflate())
        #expect(outcome.failureCode == .invalidPayload)
    }
}
