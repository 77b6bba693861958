import NIOCore
import NIOEmbedded
import Testing

@testable import WebSocket

/// The client channel handler on an embedded channel: no network, every byte under the test's control.
@Suite("Client channel handler")
struct ClientHandlerTests {
    struct Harness {
        let channel: EmbeddedChannel
        let handshake: ClientHandshake
        let sequence: WebSocketInboundStream
        let handshakeResult: EventLoopFuture<ClientHandshake.Result>
        let closeResult: EventLoopFuture<WebSocketCloseFrame>

        init(configuration: WebSocketClientConfiguration = .init(keepalive: nil)) throws {
            channel = EmbeddedChannel()
            handshake = ClientHandshake(url: try WebSocketURL("ws://example.com/"), deflate: configuration.compression)
            var configuration = configuration
            configuration.inboundBufferMessages = 4  // low 2, high 4: back pressure after a few messages
            let parts = ClientChannelHandler.make(
                eventLoop: channel.eventLoop, handshake: handshake, configuration: configuration)
            let handler = parts.handler
            sequence = parts.sequence
            handshakeResult = parts.handshake
            closeResult = parts.close
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 80)).wait()
        }

        func upgradeResponse() -> ByteBuffer {
            ByteBuffer(
                string:
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: handshake.key))\r\n\r\n"
            )
        }

        func written() throws -> [ByteBuffer] {
            var out: [ByteBuffer] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
            return out
        }
    }

    @Test("sends the upgrade request as soon as TCP is up")
    func sendsRequest() throws {
        let harness = try Harness()
        let request = try harness.written().map { String(buffer: $0) }.joined()
        #expect(request.hasPrefix("GET / HTTP/1.1\r\n"))
        #expect(request.contains("Sec-WebSocket-Key: \(harness.handshake.key)"))
    }

    @Test("keeps frames that arrive in the same segment as the 101 response")
    func framesWithResponse() async throws {
        let harness = try Harness()
        var segment = harness.upgradeResponse()
        segment.writeBytes(RawFrame.text("first").bytes + RawFrame.text("second").bytes)
        try harness.channel.writeInbound(segment)
        _ = try await harness.handshakeResult.get()
        var iterator = harness.sequence.makeAsyncIterator()
        #expect(try await iterator.next() == .text("first"))
        #expect(try await iterator.next() == .text("second"))
    }

    @Test("messages split across reads at random points arrive whole and in order")
    func splitAcrossReads() async throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            var configuration = WebSocketClientConfiguration(keepalive: nil)
            configuration.inboundBufferMessages = 1000
            let harness = try Harness(configuration: configuration)
            try harness.channel.writeInbound(harness.upgradeResponse())
            let texts = (0..<30).map {
                "message \($0) " + String(repeating: "é", count: Int.random(in: 0..<200, using: &generator))
            }
            var stream = texts.flatMap { RawFrame.text($0).bytes }
            stream += RawFrame(opcode: 9, payload: Array("ping".utf8)).bytes
            while !stream.isEmpty {
                let count = min(stream.count, Int.random(in: 1...300, using: &generator))
                try harness.channel.writeInbound(ByteBuffer(bytes: stream.prefix(count)))
                stream.removeFirst(count)
            }
            var iterator = harness.sequence.makeAsyncIterator()
            for text in texts { #expect(try await iterator.next() == .text(text)) }
            let pongs = try harness.written().flatMap { decodeSent($0).pongs }
            #expect(pongs.last == ByteBuffer(string: "ping"))
        }
    }

    @Test("a partial frame is kept in a buffer of its own, not as a slice of the read")
    func partialFrameCopied() {
        var partial = PartialFrame()
        let read = ByteBuffer(bytes: Array(0..<100))
        var bytes = partial.bytes(adding: read)
        #expect(!bytes.owned, "a read with nothing pending is decoded where it is")
        bytes.buffer.moveReaderIndex(forwardBy: 90)  // 90 bytes decoded, 10 wait for the rest of a frame
        partial.keep(bytes)
        #expect(!partial.isEmpty)
        let readStart = read.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let next = partial.bytes(adding: ByteBuffer(bytes: [100, 101]))
        #expect(next.owned)
        #expect(Array(next.buffer.readableBytesView) == Array(90...101))
        let keptStart = next.buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(!(readStart..<readStart + 100).contains(keptStart), "the read's memory can be reused")
    }

    @Test("messages the consumer has not taken yet stay intact while later reads arrive")
    func heldBatchesIntact() async throws {
        var configuration = WebSocketClientConfiguration(keepalive: nil)
        configuration.inboundBufferMessages = 1000
        let harness = try Harness(configuration: configuration)
        try harness.channel.writeInbound(harness.upgradeResponse())
        var iterator = harness.sequence.makeAsyncIterator()
        // Reads of one burst (no read-complete between them): the handler keeps its batches, and
        // must not refill the one the consumer is in.
        func read(_ texts: [String]) {
            harness.channel.pipeline.fireChannelRead(ByteBuffer(bytes: texts.flatMap { RawFrame.text($0).bytes }))
        }
        read(["a0", "a1 é"])
        #expect(try await iterator.next() == .text("a0"))  // the consumer is inside the first read's batch
        read(["b0", "b1"])
        read(["c0"])
        // The stream ends after what it holds, so a batch overwritten in place fails here, not hangs.
        try await harness.channel.close()
        for expected in ["a1 é", "b0", "b1", "c0"] { #expect(try await iterator.next() == .text(expected)) }
        await #expect(throws: WebSocketError.self) { _ = try await iterator.next() }
    }

    @Test("a read's batch is refilled once the consumer let go of it, and never while it holds it")
    func batchesRefilled() {
        var pool = InboundBatchPool()
        var consumer: InboundBatch? = pool.take()
        consumer?.append(WebSocketText(validated: ByteBuffer(string: "kept"), isASCII: true))
        let first = consumer.map(ObjectIdentifier.init)
        let second = pool.take()
        #expect(ObjectIdentifier(second) != first, "the consumer still holds the first batch")
        second.append(WebSocketText(validated: ByteBuffer(string: "other"), isASCII: true))
        #expect(consumer?.take(at: 0) == .text("kept"))
        consumer = nil
        let refilled = pool.take()
        #expect(ObjectIdentifier(refilled) == first)
        #expect(refilled.isEmpty)
    }

    @Test("a connection's handler is freed once its channel is closed and its stream dropped")
    func handlerFreed() throws {
        weak var freed: ClientChannelHandler?
        do {
            let channel = EmbeddedChannel()
            let parts = ClientChannelHandler.make(
                eventLoop: channel.eventLoop,
                handshake: ClientHandshake(url: try WebSocketURL("ws://example.com/"), deflate: nil),
                configuration: .init(keepalive: nil))
            freed = parts.handler
            try channel.pipeline.syncOperations.addHandler(parts.handler)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 80)).wait()
            try channel.close().wait()
            channel.embeddedEventLoop.run()
            _ = try? parts.handshake.wait()
            _ = try? parts.close.wait()
        }
        #expect(freed == nil, "a reference cycle keeps every closed connection's handler alive")
    }

    @Test("answers pings while nobody reads the messages")
    func pingsWithoutConsumer() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        _ = try harness.written()
        var burst = ByteBuffer()
        for index in 0..<20 { burst.writeBytes(RawFrame.text("message \(index)").bytes) }
        burst.writeBytes(RawFrame(opcode: 9, payload: Array("still there?".utf8)).bytes)
        try harness.channel.writeInbound(burst)
        let replies = try harness.written()
        #expect(replies.count == 1)
        #expect(decodeSent(replies[0]).pongs == [ByteBuffer(string: "still there?")])
    }

    @Test("stops reading while the consumer is behind, resumes when it catches up")
    func backPressure() async throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        var burst = ByteBuffer()
        for index in 0..<6 { burst.writeBytes(RawFrame.text("m\(index)").bytes) }
        try harness.channel.writeInbound(burst)
        // Above the high watermark of 4: a read request must be held back.
        let reads = ReadCounter()
        try harness.channel.pipeline.syncOperations.addHandler(reads, position: .first)
        harness.channel.read()
        #expect(reads.count == 0)
        var iterator = harness.sequence.makeAsyncIterator()
        // The six arrived in one read, as one batch; the consumer still lags until fewer than two
        // (the low watermark) are left untaken.
        for index in 0..<4 {
            #expect(try await iterator.next() == .text("m\(index)"))
            harness.channel.embeddedEventLoop.run()
            #expect(reads.count == 0, "still \(5 - index) messages behind")
        }
        #expect(try await iterator.next() == .text("m4"))
        harness.channel.embeddedEventLoop.run()
        #expect(reads.count == 1, "the held-back read goes out once the consumer caught up")
        #expect(try await iterator.next() == .text("m5"))
    }

    @Test("stops reading while the messages waiting hold more bytes than the bound, however few they are")
    func backPressureByBytes() async throws {
        let harness = try Harness(configuration: .init(keepalive: nil, inboundBufferBytes: 1_000))
        try harness.channel.writeInbound(harness.upgradeResponse())
        let big = String(repeating: "x", count: 600)
        var burst = ByteBuffer()
        for _ in 0..<3 { burst.writeBytes(RawFrame.text(big).bytes) }
        try harness.channel.writeInbound(burst)
        // Three messages, under the bound of four, but 1,800 bytes over the bound of 1,000.
        let reads = ReadCounter()
        try harness.channel.pipeline.syncOperations.addHandler(reads, position: .first)
        harness.channel.read()
        #expect(reads.count == 0)
        var iterator = harness.sequence.makeAsyncIterator()
        for left in [2, 1] {
            #expect(try await iterator.next() == .text(big))
            harness.channel.embeddedEventLoop.run()
            #expect(reads.count == 0, "\(left * 600) bytes still waiting")
        }
        #expect(try await iterator.next() == .text(big))
        harness.channel.embeddedEventLoop.run()
        #expect(reads.count == 1, "reading resumes once the bytes waiting fall below half the bound")
    }

    @Test("while the socket is not writable, pings leave one pong owed, for the latest, sent when it is writable again")
    func pongsBoundedByWritability() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        _ = try harness.written()
        harness.channel.isWritable = false
        var burst = ByteBuffer()
        for index in 0..<50 { burst.writeBytes(RawFrame(opcode: 9, payload: Array("ping \(index)".utf8)).bytes) }
        try harness.channel.writeInbound(burst)
        #expect(try harness.written().isEmpty, "nothing queued for a peer that does not read")
        harness.channel.isWritable = true
        harness.channel.pipeline.fireChannelWritabilityChanged()
        let replies = try harness.written()
        #expect(replies.count == 1)
        #expect(decodeSent(replies[0]).pongs == [ByteBuffer(string: "ping 49")])
    }

    @Test("reports the server's close code and reason after the closing handshake")
    func closeHandshake() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        _ = try harness.written()
        try harness.channel.writeInbound(ByteBuffer(bytes: RawFrame.close(1001, "restarting").bytes))
        let reply = try harness.written()
        #expect(closeCode(of: reply.first) == 1001)
        try harness.channel.close().wait()
        #expect(try harness.closeResult.wait() == WebSocketCloseFrame(code: .goingAway, reason: "restarting"))
    }

    @Test("a protocol violation closes with its code and surfaces as the error")
    func violation() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        _ = try harness.written()
        try harness.channel.writeInbound(ByteBuffer(bytes: RawFrame(opcode: 1, payload: [0xC0, 0x80]).bytes))
        #expect(closeCode(of: try harness.written().first) == 1007)
        try harness.channel.close().wait()
        #expect(throws: WebSocketError.protocolViolation(code: .invalidPayload, reason: "invalid UTF-8 in a text message")) {
            try harness.closeResult.wait()
        }
    }

    @Test("a failed upgrade fails the handshake with the reason")
    func failedUpgrade() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(ByteBuffer(string: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
        #expect(
            throws: WebSocketError.handshakeRejected(
                reason: "the server answered 404 Not Found instead of 101 Switching Protocols")
        ) {
            try harness.handshakeResult.wait()
        }
    }

    @Test(
        "a handshake refused for a window-bits value with a leading zero sends nothing after the request, not even a close frame")
    func nothingAfterFailedHandshake() throws {
        let harness = try Harness(configuration: .init(compression: .init(), keepalive: nil))
        _ = try harness.written()  // the upgrade request
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: harness.handshake.key))\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=010\r\n\r\n"
        try harness.channel.writeInbound(ByteBuffer(string: response))
        #expect(throws: WebSocketError.self) { try harness.handshakeResult.wait() }
        #expect(try harness.written().isEmpty, "no frame on a connection whose handshake failed")
        #expect(!harness.channel.isActive, "the TCP connection is closed")
    }

    @Test("TCP lost without a close frame is reported as such")
    func lostConnection() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        try harness.channel.close().wait()
        #expect(throws: WebSocketError.self) { try harness.closeResult.wait() }
        do {
            _ = try harness.closeResult.wait()
        } catch let error as WebSocketError {
            guard error.code == .connectionLost else {
                Issue.record("expected connectionLost, got \(error)")
                return
            }
        }
    }
    @Test("a server that never answers our close is cut off after the close timeout, and the error says so")
    func closeTimeout() throws {
        let harness = try Harness()
        try harness.channel.writeInbound(harness.upgradeResponse())
        _ = try harness.written()
        try harness.channel.writeOutbound(WebSocketOutboundCommand.close(.normalClosure, reason: "bye"))
        #expect(closeCode(of: try harness.written().first) == 1000)
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(2_900))
        #expect(harness.channel.isActive, "still waiting for the server's close frame")
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!harness.channel.isActive)
        #expect(throws: WebSocketError.connectionLost(reason: "the server did not answer our close frame within 3.0 seconds")) {
            try harness.closeResult.wait()
        }
    }
}

/// Counts read requests that reach the head of the pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
