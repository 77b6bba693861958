import NIOCore
import Testing

@testable import WebSocket

@Suite("Connection state machine")
struct StateMachineTests {
    @Test("delivers text and binary messages")
    func simpleMessages() {
        let outcome = run([.text("hello"), RawFrame(opcode: 2, payload: [0, 1, 2])])
        #expect(outcome.messages == [.text("hello"), .binary(ByteBuffer(bytes: [0, 1, 2]))])
        #expect(outcome.failure == nil)
    }

    @Test("reassembles fragments with control frames between them, answering pings at once")
    func fragmentsWithPing() {
        let outcome = run([
            .text("Hel", fin: false),
            RawFrame(opcode: 9, payload: Array("are you there".utf8)),
            .continuation(Array("lo, ".utf8), fin: false),
            RawFrame(opcode: 0xA, payload: [9]),
            .continuation(Array("world".utf8)),
        ])
        #expect(outcome.messages == [.text("Hello, world")])
        #expect(outcome.sent.count == 1)
        let pong = decodeSent(outcome.sent[0])
        #expect(pong.pongs == [ByteBuffer(string: "are you there")], "the pong carries the ping's payload")
        #expect(outcome.pongs == [ByteBuffer(bytes: [9])])
    }

    @Test("decodes the same whatever the read boundaries")
    func splitsDoNotMatter() {
        let frames: [RawFrame] = [
            .text("first message"), RawFrame(fin: false, opcode: 2, payload: [1, 2, 3]), .continuation([4, 5]),
            RawFrame(opcode: 1, payload: Array(String(repeating: "ü", count: 200).utf8)),
        ]
        let whole = run(frames)
        let total = frames.flatMap(\.bytes).count
        for split in 1..<total {
            #expect(run(frames, splits: [split]).messages == whole.messages)
        }
    }

    @Test("rejects a continuation frame with nothing to continue")
    func orphanContinuation() {
        #expect(run([.continuation([1])]).failureCode == .protocolError)
    }

    @Test("rejects a new message inside a fragmented one")
    func interleavedMessage() {
        #expect(run([.text("a", fin: false), .text("b")]).failureCode == .protocolError)
    }

    @Test("fails invalid UTF-8 with 1007 as soon as the bad bytes arrive, before the frame ends")
    func failFastInsideFrame() {
        let payload = Array("valid start ".utf8) + [0xF8, 0x88] + Array(repeating: 0x61, count: 100)
        let frame = RawFrame(opcode: 1, payload: payload)
        var machine = WebSocketConnectionStateMachine(role: .client)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        // Only the header and the first 15 payload bytes: the frame is far from complete.
        machine.feed(Array(frame.bytes.prefix(2 + 15)), into: &outcome, buffer: &buffer)
        #expect(outcome.failureCode == .invalidPayload)
        #expect(closeCode(of: outcome.failureFrame) == 1007)
    }

    @Test("fails invalid UTF-8 in the fragment that carries it, not at the end of the message")
    func failFastAcrossFragments() {
        var machine = WebSocketConnectionStateMachine(role: .client)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        machine.feed(RawFrame.text("κό", fin: false).bytes, into: &outcome, buffer: &buffer)
        #expect(outcome.failure == nil)
        machine.feed(RawFrame.continuation([0xED, 0xA0, 0x80], fin: false).bytes, into: &outcome, buffer: &buffer)
        #expect(outcome.failureCode == .invalidPayload)
    }

    @Test("accepts a character split across fragments but not a message that ends inside one")
    func characterAcrossFragments() {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let ok = run([
            RawFrame(fin: false, opcode: 1, payload: [euro[0]]), .continuation([euro[1]], fin: false), .continuation([euro[2]]),
        ])
        #expect(ok.messages == [.text("€")])
        let truncated = run([RawFrame(fin: false, opcode: 1, payload: [euro[0]]), .continuation([euro[1]])])
        #expect(truncated.failureCode == .invalidPayload)
    }

    @Test("answers a close by echoing its code, then ignores everything")
    func peerClose() {
        var machine = WebSocketConnectionStateMachine(role: .client)
        var outcome = Outcome()
        var buffer = ByteBuffer()
        machine.feed((RawFrame.close(4000, "bye").bytes + RawFrame.text("late").bytes), into: &outcome, buffer: &buffer)
        #expect(outcome.closed == WebSocketCloseFrame(code: WebSocketCloseCode(4000), reason: "bye"))
        #expect(closeCode(of: outcome.closeReply) == 4000)
        #expect(outcome.messages.isEmpty, "nothing is delivered after the close")
        #expect(machine.state == .closed)
        #expect(throws: WebSocketError.alreadyClosed) { _ = try machine.send(.text("too late")) }
        #expect(machine.ping(ByteBuffer()) == nil)
    }

    @Test("answers an empty close with an empty close, reporting 1005")
    func emptyClose() {
        let outcome = run([.close(nil)])
        #expect(outcome.closed?.code == .noStatusReceived)
        #expect(outcome.closeReply.map { Array($0.readableBytesView.prefix(2)) } == [0x88, 0x80])
    }

    static let badCloses: [(RawFrame, UInt16)] = [
        (RawFrame(opcode: 8, payload: [0x03]), UInt16(1002)),  // one byte
        (RawFrame.close(1005), 1002), (RawFrame.close(1006), 1002), (RawFrame.close(999), 1002),
        (RawFrame.close(1004), 1002), (RawFrame.close(1015), 1002), (RawFrame.close(2000), 1002), (RawFrame.close(5000), 1002),
        (RawFrame(opcode: 8, payload: [0x03, 0xE8, 0xCE, 0xBA, 0xE1]), 1007),  // reason is bad UTF-8
    ]

    @Test("rejects close frames that break the rules", arguments: badCloses)
    func badClose(frame: RawFrame, code: UInt16) {
        let outcome = run([frame])
        #expect(outcome.failureCode?.rawValue == code)
        #expect(closeCode(of: outcome.failureFrame) == code)
    }

    @Test(
        "accepts every close code a peer may send",
        arguments: [UInt16(1000), 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999])
    func validCloseCodes(code: UInt16) {
        #expect(run([.close(code)]).closed?.code.rawValue == code)
    }

    @Test("after our close: nothing more is sent, data still arrives, the peer's close completes it")
    func ourClose() {
        var machine = WebSocketConnectionStateMachine(role: .client)
        let frame = machine.close(code: .goingAway, reason: "shutting down")
        #expect(closeCode(of: frame) == 1001)
        #expect(machine.close() == nil, "a second close frame is never sent")
        #expect(throws: WebSocketError.alreadyClosed) { _ = try machine.send(.text("x")) }
        var outcome = Outcome()
        var buffer = ByteBuffer()
        machine.feed(
            RawFrame(opcode: 9, payload: [1]).bytes + RawFrame.text("in flight").bytes + RawFrame.close(1001).bytes,
            into: &outcome, buffer: &buffer)
        #expect(outcome.sent.isEmpty, "no pong after our close frame")
        #expect(outcome.messages == [.text("in flight")])
        #expect(outcome.closed?.code == .goingAway)
        #expect(outcome.closeReply == nil)
    }

    @Test("after a failure nothing more is read or delivered")
    func afterFailure() {
        let outcome = run([RawFrame(rsv: 0x20, opcode: 1), .text("ignored"), RawFrame(opcode: 9)])
        #expect(outcome.failureCode == .protocolError)
        #expect(outcome.messages.isEmpty)
        #expect(outcome.sent.isEmpty)
    }

    @Test("a long failure reason is cut to fit a control frame at a character boundary")
    func longReason() {
        var machine = WebSocketConnectionStateMachine(role: .client)
        let frame = machine.close(code: .normalClosure, reason: String(repeating: "é", count: 100))
        let decoded = decodeSent(frame!)
        #expect(decoded.failure == nil)
        #expect(decoded.closed?.reason.utf8.count ?? 0 <= 123)
    }
}
