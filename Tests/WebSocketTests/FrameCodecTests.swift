import NIOCore
import Testing

@testable import WebSocket

@Suite("Frame codec")
struct FrameCodecTests {
    @Test("uses the minimal length encoding", arguments: [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
    func minimalLength(length: Int, headerLength: Int) {
        var out = ByteBuffer()
        let payload = [UInt8](repeating: 0x61, count: length)
        payload.withUnsafeBytes { FrameEncoder.encode(opcode: .binary, payload: $0, role: .server, into: &out) }
        #expect(out.readableBytes == headerLength + length)
        let header = try? FrameHeader.parse(out, role: .client, allowRSV1: false, maxFrameSize: 1 << 20)
        #expect(header?.payloadLength == length)
        #expect(header?.headerLength == headerLength)
    }

    @Test("masks every client frame with a fresh key, and the server unmasks it")
    func clientMasking() {
        var machine = WebSocketConnectionStateMachine(role: .client)
        let text = String(repeating: "masked payload ", count: 20)
        var keys = Set<UInt32>()
        for _ in 0..<16 {
            let frame = try! machine.send(.text(text))
            let header = try! FrameHeader.parse(frame, role: .server, allowRSV1: false, maxFrameSize: 1 << 20)!
            keys.insert(header.maskKey!)
            #expect(frame.getBytes(at: header.headerLength, length: 5) != Array("maske".utf8))
            #expect(decodeSent(frame).messages == [.text(text)])
        }
        #expect(keys.count > 12, "masking keys must not repeat")
    }

    @Test("applies the mask at any phase and length like the byte-wise definition")
    func maskMatchesDefinition() {
        let key: UInt32 = 0x1234_ABCD
        let keyBytes: [UInt8] = [0x12, 0x34, 0xAB, 0xCD]
        for length in [0, 1, 3, 7, 8, 9, 17, 100] {
            for phase in 0..<4 {
                let input = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
                var output = input
                output.withUnsafeMutableBytes { FrameEncoder.applyMask(key, to: $0, startingAt: phase) }
                let expected = input.enumerated().map { $0.element ^ keyBytes[($0.offset + phase) % 4] }
                #expect(output == expected)
            }
        }
    }

    @Test("server frames are not masked")
    func serverUnmasked() {
        var machine = WebSocketConnectionStateMachine(role: .server)
        let frame = try! machine.send(.text("hi"))
        #expect(Array(frame.readableBytesView) == [0x81, 0x02, 0x68, 0x69])
    }

    @Test("rejects reserved bits", arguments: [UInt8(0x40), 0x20, 0x10, 0x70])
    func reservedBits(rsv: UInt8) {
        let outcome = run([RawFrame(rsv: rsv, opcode: 1, payload: Array("x".utf8))])
        #expect(outcome.failureCode == .protocolError)
        #expect(outcome.messages.isEmpty)
        #expect(closeCode(of: outcome.failureFrame) == 1002)
    }

    @Test("rejects reserved opcodes", arguments: [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    func reservedOpcodes(opcode: UInt8) {
        let outcome = run([RawFrame(opcode: opcode, payload: [1, 2])])
        #expect(outcome.failureCode == .protocolError)
    }

    @Test("rejects control frames over 125 bytes, before their payload arrives")
    func longControlFrame() {
        let frame = RawFrame(opcode: 9, payload: [UInt8](repeating: 0, count: 126))
        let outcome = run([frame], splits: [4])
        #expect(outcome.failureCode == .protocolError)
        #expect(outcome.sent.isEmpty, "no pong for an illegal ping")
    }

    @Test("rejects fragmented control frames")
    func fragmentedControl() {
        #expect(run([RawFrame(fin: false, opcode: 9, payload: [1])]).failureCode == .protocolError)
    }

    @Test("rejects masked frames from a server and unmasked frames from a client")
    func maskDirection() {
        #expect(run([RawFrame(opcode: 1, payload: [0x61], maskKey: 7)]).failureCode == .protocolError)
        var server = WebSocketConnectionStateMachine(role: .server)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        server.feed(RawFrame.text("a").bytes, into: &outcome, buffer: &buffer)
        #expect(outcome.failureCode == .protocolError)
        server = WebSocketConnectionStateMachine(role: .server)
        outcome = Outcome()
        server.feed(RawFrame(opcode: 1, payload: Array("ok".utf8), maskKey: 0xDEAD_BEEF).bytes, into: &outcome, buffer: &buffer)
        #expect(outcome.messages == [.text("ok")])
    }

    @Test("rejects a 64-bit length with the top bit set")
    func hugeLength() {
        let bytes: [UInt8] = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]
        var machine = WebSocketConnectionStateMachine(role: .client)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        machine.feed(bytes, into: &outcome, buffer: &buffer)
        #expect(outcome.failureCode == .protocolError)
    }

    @Test("a frame over the limit closes with 1009 as soon as its header arrives")
    func frameTooLarge() {
        let limits = WebSocketConnectionStateMachine.Limits(maxFrameSize: 1000, maxMessageSize: 1000)
        let frame = RawFrame(opcode: 2, payload: [UInt8](repeating: 1, count: 1001))
        let outcome = run([frame], limits: limits, splits: [4])
        #expect(outcome.failureCode == .messageTooBig)
        #expect(closeCode(of: outcome.failureFrame) == 1009)
        // And a frame at the limit is fine.
        let ok = run([RawFrame(opcode: 2, payload: [UInt8](repeating: 1, count: 1000))], limits: limits)
        #expect(ok.messages.count == 1)
    }

    @Test("a fragmented message over the limit closes with 1009")
    func messageTooLarge() {
        let limits = WebSocketConnectionStateMachine.Limits(maxFrameSize: 1000, maxMessageSize: 1500)
        let outcome = run(
            [
                RawFrame(fin: false, opcode: 2, payload: .init(repeating: 1, count: 800)),
                .continuation(.init(repeating: 1, count: 800)),
            ],
            limits: limits
        )
        #expect(outcome.failureCode == .messageTooBig)
        #expect(outcome.messages.isEmpty)
    }

    @Test("sending more than the message limit is refused locally")
    func sendTooLarge() {
        var machine = WebSocketConnectionStateMachine(role: .client, limits: .init(maxFrameSize: 10, maxMessageSize: 10))
        #expect(throws: WebSocketError.messageTooLarge(size: 11, limit: 10)) {
            _ = try machine.send(.text(String(repeating: "x", count: 11)))
        }
    }
}
