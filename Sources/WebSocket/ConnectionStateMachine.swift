import NIOCore

/// The WebSocket protocol after the opening handshake, as a pure state machine: bytes in, actions
/// out, no I/O and no clocks. Both roles: a client masks what it sends and rejects masked frames,
/// a server the reverse.
///
/// It reassembles fragmented messages (control frames may come between fragments), validates text
/// as UTF-8 incrementally — also inside a frame whose end has not arrived yet, so bad text fails as
/// soon as it is seen — inflates permessage-deflate messages under a hard output cap, enforces the
/// frame and message limits, and runs the closing handshake: once our close frame has gone out it
/// produces nothing more to send.
///
/// It holds zlib streams, so it is a non-copyable value: exactly one owner drives it.
public struct WebSocketConnectionStateMachine: ~Copyable {
    /// What the caller must do after feeding bytes with ``read(_:)``.
    public enum ReadAction {
        /// Everything decodable was decoded; wait for more bytes.
        case needMoreData
        /// A complete text message for the application, its UTF-8 validated.
        case deliverText(WebSocketText)
        /// A complete binary message for the application.
        case deliverBinary(ByteBuffer)
        /// Write these bytes (a pong answering a ping), then keep reading.
        case send(ByteBuffer)
        /// A pong arrived with this payload.
        case pongReceived(ByteBuffer)
        /// The peer closed. Write `reply` if there is one (our answering close frame); the closing
        /// handshake is then complete and the transport should end (RFC 6455 §7.1.1: the server
        /// closes TCP first, so a client waits a short time for that).
        case closeReceived(WebSocketCloseFrame, reply: ByteBuffer?)
        /// The peer broke the protocol. Write `closeFrame` if there is one, then end the transport.
        case fail(WebSocketError, closeFrame: ByteBuffer?)
    }

    /// Where the connection is in its life.
    public enum State: Equatable, Sendable {
        case open
        /// Our close frame went out; waiting for the peer's.
        case closeSent
        /// The closing handshake finished or the connection failed; nothing more is sent or read.
        case closed
    }

    public struct Limits: Sendable, Hashable {
        /// The largest frame payload accepted, checked as soon as the header arrives.
        public var maxFrameSize: Int
        /// The largest message accepted, after decompression; also the limit on what we send.
        public var maxMessageSize: Int

        public init(maxFrameSize: Int = 1 << 20, maxMessageSize: Int = 1 << 20) {
            self.maxFrameSize = maxFrameSize
            self.maxMessageSize = maxMessageSize
        }
    }

    private struct PartialMessage {
        var isText: Bool
        var compressed: Bool
        var data: ByteBuffer
    }

    public private(set) var state: State = .open
    public let role: WebSocketRole
    public let limits: Limits
    public let deflate: NegotiatedDeflate?

    private let allocator = ByteBufferAllocator()
    private var message: PartialMessage?
    /// Runs across the fragments of the text message in progress.
    private var validator = UTF8Validator()
    /// How many payload bytes of the frame still arriving were already fed to `validator`.
    private var validatedPrefix = 0
    private var inflater: Inflater?
    private var deflater: Deflater?
    /// Output space for inflating, reused from one compressed text message to the next.
    private var inflateBuffer = ByteBuffer()

    public init(role: WebSocketRole, limits: Limits = Limits(), deflate: NegotiatedDeflate? = nil) {
        self.role = role
        self.limits = limits
        self.deflate = deflate
    }

    // MARK: Reading

    /// Consumes bytes from the front of `buffer` and returns the next thing to do. Call it again
    /// until it answers ``ReadAction/needMoreData``; what it has not consumed stays in `buffer`.
    public mutating func read(_ buffer: inout ByteBuffer) -> ReadAction {
        while true {
            guard state != .closed else {
                // After the handshake or a failure, whatever else arrives is discarded unread.
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return .needMoreData
            }
            let header: FrameHeader
            do {
                guard
                    let parsed = try FrameHeader.parse(
                        buffer,
                        role: role,
                        allowRSV1: deflate != nil,
                        maxFrameSize: limits.maxFrameSize
                    )
                else { return .needMoreData }
                header = parsed
            } catch {
                return fail(error.closeCode, error.reason)
            }
            if let problem = sequenceProblem(header) { return fail(.protocolError, problem) }
            if !header.opcode.isControl && !header.rsv1 && message?.compressed != true {
                let size = (message?.data.readableBytes ?? 0) + header.payloadLength
                if size > limits.maxMessageSize {
                    return fail(.messageTooBig, "message of more than \(limits.maxMessageSize) bytes")
                }
            }
            let frameLength = header.headerLength + header.payloadLength
            guard buffer.readableBytes >= frameLength else {
                if validatesText(header) && header.maskKey == nil {
                    let available = buffer.readableBytes - header.headerLength
                    if !validateText(buffer, from: header.headerLength, prefix: validatedPrefix, upTo: available) {
                        return fail(.invalidPayload, "invalid UTF-8 in a text message")
                    }
                    validatedPrefix = available
                }
                return .needMoreData
            }
            buffer.moveReaderIndex(forwardBy: header.headerLength)
            // Cannot fail: the length was checked above.
            guard var payload = buffer.readSlice(length: header.payloadLength) else { return .needMoreData }
            if let key = header.maskKey {
                payload.withUnsafeMutableReadableBytes { FrameEncoder.applyMask(key, to: $0) }
            }
            let prefix = validatedPrefix
            validatedPrefix = 0
            if let action = handle(header, payload, validatedPrefix: prefix) { return action }
        }
    }

    /// The frame-order rules of RFC 6455 §5.4 and RFC 7692 §6.1, checked as soon as a header is read.
    private func sequenceProblem(_ header: FrameHeader) -> String? {
        switch header.opcode {
        case .continuation:
            if message == nil { return "continuation frame without a message to continue" }
            if header.rsv1 { return "RSV1 set on a continuation frame" }
        case .text, .binary:
            if message != nil { return "new data frame before the fragmented message finished" }
        case .close, .ping, .pong:
            if header.rsv1 { return "RSV1 set on a control frame" }
        }
        return nil
    }

    /// Whether this frame's payload is uncompressed text, which can be checked before it is complete.
    private func validatesText(_ header: FrameHeader) -> Bool {
        switch header.opcode {
        case .text: return !header.rsv1
        case .continuation: return message.map { $0.isText && !$0.compressed } ?? false
        default: return false
        }
    }

    private mutating func validateText(_ buffer: ByteBuffer, from offset: Int, prefix: Int, upTo end: Int) -> Bool {
        guard end > prefix else { return true }
        if prefix == 0, message == nil { validator = UTF8Validator() }
        return buffer.withUnsafeReadableBytes { bytes in
            validator.feed(UnsafeRawBufferPointer(rebasing: bytes[(offset + prefix)..<(offset + end)]))
        }
    }

    private mutating func handle(_ header: FrameHeader, _ payload: ByteBuffer, validatedPrefix prefix: Int) -> ReadAction? {
        switch header.opcode {
        case .ping:
            guard state == .open else { return nil }  // nothing is sent after our close
            var pong = allocator.buffer(capacity: payload.readableBytes + 14)
            FrameEncoder.encode(opcode: .pong, payload: payload, role: role, into: &pong)
            return .send(pong)
        case .pong:
            return .pongReceived(payload)
        case .close:
            return receivedClose(payload)
        case .text where header.fin && !header.rsv1:
            // The common case, a whole text message in one frame: validated in one pass.
            if prefix == 0 {
                let verdict = payload.withUnsafeReadableBytes(UTF8Validator.validate)
                guard verdict.valid else { return fail(.invalidPayload, "invalid UTF-8 in a text message") }
                return .deliverText(WebSocketText(validated: payload, isASCII: verdict.isASCII))
            }
            // Its start was validated while it arrived; `validator` holds that state.
            let ok = payload.withUnsafeReadableBytes { bytes in
                validator.feed(UnsafeRawBufferPointer(rebasing: bytes[prefix...]))
            }
            guard ok, validator.isAtCharacterBoundary else {
                return fail(.invalidPayload, "invalid UTF-8 in a text message")
            }
            return .deliverText(WebSocketText(validated: payload, isASCII: validator.isASCII))
        case .binary where header.fin && !header.rsv1:
            return .deliverBinary(payload)
        case .text, .binary:
            if header.opcode == .text && prefix == 0 { validator = UTF8Validator() }
            var data: ByteBuffer
            if header.rsv1 {
                // Inflate into the buffer kept from the last compressed message: no allocation per message.
                data = inflateBuffer
                inflateBuffer = ByteBuffer()
                data.clear()
                data.reserveCapacity(minimumWritableBytes: payload.readableBytes * 4)
            } else {
                data = allocator.buffer(capacity: payload.readableBytes)
            }
            message = PartialMessage(isText: header.opcode == .text, compressed: header.rsv1, data: data)
            return append(payload, fin: header.fin, validatedPrefix: prefix, wholeMessage: header.fin)
        case .continuation:
            return append(payload, fin: header.fin, validatedPrefix: prefix)
        }
    }

    /// `wholeMessage`: this frame is the entire message, so text can be validated once at the end
    /// instead of incrementally (nothing arrives after it that fail-fast could save).
    private mutating func append(
        _ payload: ByteBuffer, fin: Bool, validatedPrefix prefix: Int, wholeMessage: Bool = false
    )
        -> ReadAction?
    {
        guard var partial = message else { return fail(.protocolError, "continuation frame without a message") }
        message = nil  // keep `partial.data` uniquely referenced while it grows
        let before = partial.data.writerIndex
        if partial.compressed {
            let limit = limits.maxMessageSize - partial.data.readableBytes
            let windowBits = max(deflate?.peerMaxWindowBits ?? 15, 9)
            let inflater = self.inflater ?? Inflater(windowBits: windowBits)
            self.inflater = inflater
            do {
                try payload.withUnsafeReadableBytes { bytes throws(InflateError) in
                    try inflater.inflate(bytes, endOfMessage: fin, into: &partial.data, limit: limit)
                }
            } catch .tooLarge {
                return fail(.messageTooBig, "message inflates to more than \(limits.maxMessageSize) bytes")
            } catch {
                return fail(.protocolError, "the compressed message is corrupt")
            }
            if partial.isText && !wholeMessage {
                let ok = partial.data.withUnsafeReadableBytes { bytes in
                    validator.feed(UnsafeRawBufferPointer(rebasing: bytes[(before - partial.data.readerIndex)...]))
                }
                if !ok { return fail(.invalidPayload, "invalid UTF-8 in a text message") }
            }
        } else {
            if partial.isText {
                let ok = payload.withUnsafeReadableBytes { bytes in
                    validator.feed(UnsafeRawBufferPointer(rebasing: bytes[prefix...]))
                }
                if !ok { return fail(.invalidPayload, "invalid UTF-8 in a text message") }
            }
            partial.data.writeImmutableBuffer(payload)
        }
        guard fin else {
            message = partial
            return nil
        }
        if partial.compressed, deflate?.peerNoContextTakeover == true {
            // The next message starts from an empty window; keep the memory for it while busy.
            inflater?.reset()
        }
        guard partial.isText else { return .deliverBinary(partial.data) }
        let verdict: (valid: Bool, isASCII: Bool)
        if wholeMessage && partial.compressed {
            verdict = partial.data.withUnsafeReadableBytes(UTF8Validator.validate)
        } else {
            verdict = (validator.isAtCharacterBoundary, validator.isASCII)
        }
        if partial.compressed {
            // Its capacity serves the next compressed message: a caller that copies the text and lets
            // go of it leaves the buffer ours alone again, so inflating allocates nothing per message.
            inflateBuffer = partial.data
        }
        guard verdict.valid else { return fail(.invalidPayload, "invalid UTF-8 in a text message") }
        return .deliverText(WebSocketText(validated: partial.data, isASCII: verdict.isASCII))
    }

    private mutating func receivedClose(_ payload: ByteBuffer) -> ReadAction {
        var payload = payload
        let frame: WebSocketCloseFrame
        switch payload.readableBytes {
        case 0:
            frame = WebSocketCloseFrame(code: .noStatusReceived)
        case 1:
            return fail(.protocolError, "close frame with a one-byte payload")
        default:
            guard let raw = payload.readInteger(as: UInt16.self) else { return fail(.protocolError, "bad close frame") }
            let code = WebSocketCloseCode(raw)
            guard code.isValidOnTheWire else { return fail(.protocolError, "close code \(raw) is not allowed") }
            guard let reason = payload.withUnsafeReadableBytes({ String(validating: $0, as: UTF8.self) }) else {
                return fail(.invalidPayload, "invalid UTF-8 in the close reason")
            }
            frame = WebSocketCloseFrame(code: code, reason: reason)
        }
        let wasOpen = state == .open
        state = .closed
        message = nil
        guard wasOpen else { return .closeReceived(frame, reply: nil) }
        // Echo the code (RFC 6455 §5.5.1); an empty close is answered with an empty one.
        let reply = encodeClose(frame.code == .noStatusReceived ? nil : frame.code, reason: "")
        return .closeReceived(frame, reply: reply)
    }

    private mutating func fail(_ code: WebSocketCloseCode, _ reason: String) -> ReadAction {
        let wasOpen = state == .open
        state = .closed
        message = nil
        inflater = nil
        let frame = wasOpen ? encodeClose(code, reason: reason) : nil
        return .fail(.protocolViolation(code: code, reason: reason), closeFrame: frame)
    }

    // MARK: Writing

    /// Encodes a data message as one frame, compressed when negotiated and worth it.
    public mutating func send(_ message: WebSocketMessage) throws(WebSocketError) -> ByteBuffer {
        switch message {
        case .text(var text):
            let result = text.withUTF8 { bytes in
                Result { () throws(WebSocketError) in try send(opcode: .text, UnsafeRawBufferPointer(bytes)) }
            }
            return try result.get()
        case .binary(let data):
            let result = data.withUnsafeReadableBytes { bytes in
                Result { () throws(WebSocketError) in try send(opcode: .binary, bytes) }
            }
            return try result.get()
        }
    }

    /// Encodes a data message from raw bytes; `opcode` is `.text` or `.binary`. Text must be UTF-8.
    public mutating func send(opcode: WebSocketOpcode, _ bytes: UnsafeRawBufferPointer) throws(WebSocketError) -> ByteBuffer {
        precondition(opcode == .text || opcode == .binary, "data messages are text or binary")
        guard state == .open else { throw .alreadyClosed }
        guard bytes.count <= limits.maxMessageSize else {
            throw .messageTooLarge(size: bytes.count, limit: limits.maxMessageSize)
        }
        var output = allocator.buffer(capacity: bytes.count + 14)
        if let deflate, deflate.localMaxWindowBits != 0, bytes.count >= deflate.compressionThreshold {
            let deflater =
                self.deflater
                ?? Deflater(
                    windowBits: deflate.localMaxWindowBits,
                    memoryLevel: deflate.memoryLevel,
                    level: deflate.compressionLevel
                )
            var compressed = allocator.buffer(capacity: bytes.count / 2 + 64)
            deflater.compress(bytes, into: &compressed)
            self.deflater = deflate.localNoContextTakeover ? nil : deflater
            FrameEncoder.encode(opcode: opcode, rsv1: true, payload: compressed, role: role, into: &output)
        } else {
            FrameEncoder.encode(opcode: opcode, payload: bytes, role: role, into: &output)
        }
        return output
    }

    /// Encodes what a connection asked for. Returns nil for a close when ours already went out (there
    /// is nothing to send and nothing wrong); throws ``WebSocketError/alreadyClosed`` for a message
    /// or ping once the connection is closing.
    public mutating func encode(_ command: WebSocketOutboundCommand) throws(WebSocketError) -> ByteBuffer? {
        switch command {
        case .message(let message):
            return try send(message)
        case .ping(let payload):
            guard let frame = ping(payload) else { throw .alreadyClosed }
            return frame
        case .close(let code, let reason):
            return close(code: code, reason: reason)
        }
    }

    /// Encodes a ping, or nil once the connection is closing.
    public mutating func ping(_ payload: ByteBuffer) -> ByteBuffer? {
        guard state == .open else { return nil }
        var output = allocator.buffer(capacity: 14 + payload.readableBytes)
        FrameEncoder.encode(opcode: .ping, payload: payload, role: role, into: &output)
        return output
    }

    /// Starts the closing handshake: returns our close frame, or nil if one already went out.
    public mutating func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") -> ByteBuffer? {
        guard state == .open else { return nil }
        state = .closeSent
        return encodeClose(code, reason: reason)
    }

    /// Frees the decompressor when the peer compresses every message on its own, so the next message
    /// does not need it. Call it when a burst of reads ends: a busy connection keeps its stream, an idle
    /// one holds none. (Our own compressor is freed after each message under no context takeover.)
    public mutating func releaseIdleResources() {
        guard message == nil else { return }
        inflateBuffer = ByteBuffer()
        guard deflate?.peerNoContextTakeover == true else { return }
        inflater = nil
    }

    /// Whether a decompressor is allocated right now (for memory accounting and tests).
    public var holdsInflater: Bool { inflater != nil }

    /// Notes that the transport is gone; nothing further is read or sent.
    public mutating func transportClosed() {
        state = .closed
        message = nil
        inflater = nil
        deflater = nil
    }

    private func encodeClose(_ code: WebSocketCloseCode?, reason: String) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 125)
        if let code {
            payload.writeInteger(code.rawValue)
            // A control frame carries at most 125 bytes: cut the reason at a character boundary.
            var utf8 = Array(reason.utf8.prefix(123))
            while !utf8.isEmpty, String(validating: utf8, as: UTF8.self) == nil { utf8.removeLast() }
            payload.writeBytes(utf8)
        }
        var output = allocator.buffer(capacity: payload.readableBytes + 14)
        FrameEncoder.encode(opcode: .close, payload: payload, role: role, into: &output)
        return output
    }
}
