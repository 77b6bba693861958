import NIOCore
import NIOSSL

/// Drives one client connection on its event loop: the opening handshake, then the state machine,
/// keepalive, the closing handshake and its timers. Pings are answered here as they arrive, whatever
/// the application is doing; complete messages go to the application's stream, and reading from the
/// socket pauses while that stream holds `inboundBufferMessages` undelivered messages.
final class ClientChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Never
    typealias OutboundIn = WebSocketOutboundCommand
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case handshaking(ByteBuffer)
        case open
        case closed
    }

    private let handshake: ClientHandshake
    private let configuration: WebSocketClientConfiguration
    private let handshakePromise: EventLoopPromise<ClientHandshake.Result>
    private let closePromise: EventLoopPromise<WebSocketCloseFrame>
    private let source: InboundProducer.Source
    private let backlog: InboundBacklog

    private var phase: Phase = .handshaking(ByteBuffer())
    /// Unchecked: used only on the event loop and never re-entered (it is pure), and it is accessed for
    /// every message, where the runtime's exclusivity check is a measurable cost.
    @exclusivity(unchecked) private var machine = WebSocketConnectionStateMachine(role: .client)
    private var context: ChannelHandlerContext?
    /// Bytes of a frame that has not fully arrived.
    private var partial = PartialFrame()
    /// The batches handed to the consumer, refilled once it is done with them.
    private var batches = InboundBatchPool()
    /// The first way the connection ended, which is what the application is told.
    private var outcome: Result<WebSocketCloseFrame, WebSocketError>?
    private var transportError: WebSocketError?

    private var readPaused = false
    /// The pong owed for the latest ping while the socket was not writable.
    private var heldPong: ByteBuffer?
    private var readRequestedWhilePaused = false

    private var lastActivity = NIODeadline.now()
    private var pingSentAt: NIODeadline?
    private var pingCounter: UInt64 = 0
    private var keepaliveTask: Scheduled<Void>?
    private var handshakeTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?

    init(
        handshake: ClientHandshake,
        configuration: WebSocketClientConfiguration,
        handshakePromise: EventLoopPromise<ClientHandshake.Result>,
        closePromise: EventLoopPromise<WebSocketCloseFrame>,
        source: InboundProducer.Source,
        backlog: InboundBacklog
    ) {
        self.handshake = handshake
        self.configuration = configuration
        self.handshakePromise = handshakePromise
        self.closePromise = closePromise
        self.source = source
        self.backlog = backlog
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The context holds this handler: keeping it would keep both alive after the channel is gone.
        self.context = nil
        handshakeTimer?.cancel()
        closeTimer?.cancel()
        keepaliveTask?.cancel()
        // A channel that never became active (its connect failed) ends here without `channelInactive`:
        // nobody waits for these, but each must be completed. Completing one twice is a no-op.
        let error = transportError ?? .connectionLost(reason: "the connection ended before the handshake")
        handshakePromise.fail(error)
        closePromise.fail(error)
        source.finish(error)
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .handshaking = phase, handshakeTimer == nil else { return }
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(configuration.handshakeTimeout)) {
            self.failHandshake(.handshakeTimeout)
        }
        context.writeAndFlush(wrapOutboundOut(handshake.request()), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        closeTimer?.cancel()
        keepaliveTask?.cancel()
        machine.transportClosed()
        if case .handshaking = phase {
            handshakePromise.fail(
                transportError ?? .connectionLost(reason: "the server closed the connection during the handshake"))
        }
        phase = .closed
        let result =
            outcome
            ?? .failure(transportError ?? .connectionLost(reason: "the TCP connection ended without a close frame"))
        switch result {
        case .success(let frame):
            closePromise.succeed(frame)
            source.finish()
        case .failure(let error):
            closePromise.fail(error)
            source.finish(error)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if transportError == nil {
            if let error = error as? WebSocketError {
                transportError = error
            } else if error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError {
                transportError = .tls(reason: "\(error)")
            } else {
                transportError = .connectionLost(reason: "\(error)")
            }
        }
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        lastActivity = .now()
        switch phase {
        case .closed:
            return
        case .handshaking(var buffer):
            if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(&bytes) }
            phase = .handshaking(ByteBuffer())
            do {
                guard let head = try HTTPHead.read(from: &buffer) else {
                    phase = .handshaking(buffer)
                    return
                }
                let result = try handshake.validate(head)
                handshakeTimer?.cancel()
                machine = WebSocketConnectionStateMachine(role: .client, limits: configuration.limits, deflate: result.deflate)
                phase = .open
                handshakePromise.succeed(result)
                startKeepalive(context: context)
                // Frames that came in the same segment as the 101 response.
                if buffer.readableBytes > 0 { process(context: context, read: buffer) }
            } catch {
                failHandshake(error)
            }
        case .open:
            process(context: context, read: bytes)
        }
    }

    private func process(context: ChannelHandlerContext, read: ByteBuffer) {
        var bytes = partial.bytes(adding: read)
        defer { partial.keep(bytes) }
        // The messages of this read, handed to the consumer in one piece.
        let batch = batches.take()
        loop: while true {
            switch machine.read(&bytes.buffer) {
            case .needMoreData:
                break loop
            case .deliverText(let text):
                batch.append(text)
            case .deliverBinary(let data):
                batch.append(binary: data)
            case .send(let reply):
                // A peer that pings without reading our pongs must not grow our buffers: while the
                // socket is not writable only the pong of the latest ping is kept (RFC 6455 §5.5.3).
                if context.channel.isWritable {
                    context.write(wrapOutboundOut(reply), promise: nil)
                } else {
                    heldPong = reply
                }
            case .pongReceived:
                pingSentAt = nil
            case .closeReceived(let frame, let reply):
                if outcome == nil { outcome = .success(frame) }
                if let reply {
                    context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
                }
                scheduleClose(context: context)
            case .fail(let error, let frame):
                if outcome == nil { outcome = .failure(error) }
                if let frame { context.writeAndFlush(wrapOutboundOut(frame), promise: nil) }
                scheduleClose(context: context)
            }
        }
        deliver(batch)
    }

    /// Hands the messages of one read to the consumer as one batch: one lock and at most one wake-up
    /// of the consuming task per read, not one per message.
    private func deliver(_ batch: InboundBatch) {
        guard !batch.isEmpty else { return }
        if backlog.adding(batch.count, bytes: batch.bytes) { readPaused = true }
        _ = source.yield(batch)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .open = phase, partial.isEmpty {
            machine.releaseIdleResources()
            partial.releaseSpare()
            batches.removeAll()
        }
        context.flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let pong = heldPong, case .open = phase {
            heldPong = nil
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readRequestedWhilePaused = true
        } else {
            context.read()
        }
    }

    /// The consumer drained the buffer below the low watermark.
    func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        lastActivity = .now()
        if readRequestedWhilePaused, let context {
            readRequestedWhilePaused = false
            context.read()
        }
    }

    /// The application dropped the message stream: nobody will read what arrives, so say goodbye.
    func consumerGone() {
        readPaused = false
        guard case .open = phase, let context else { return }
        if let frame = machine.close(code: .goingAway, reason: "") {
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            scheduleClose(context: context)
        }
        if readRequestedWhilePaused {
            readRequestedWhilePaused = false
            context.read()
        }
    }

    // MARK: Writing

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .open = phase else {
            promise?.fail(WebSocketError.alreadyClosed)
            return
        }
        let command = unwrapOutboundIn(data)
        do {
            guard let bytes = try machine.encode(command) else { return promise?.succeed(()) ?? () }
            context.write(wrapOutboundOut(bytes), promise: promise)
            if case .close = command { scheduleClose(context: context) }
        } catch {
            promise?.fail(error)
        }
    }

    // MARK: Timers

    private func failHandshake(_ error: WebSocketError) {
        guard case .handshaking = phase else { return }
        transportError = transportError ?? error
        handshakeTimer?.cancel()
        context?.close(promise: nil)
    }

    /// After the closing handshake or a failure the server should end TCP; if it does not, we do.
    private func scheduleClose(context: ChannelHandlerContext) {
        guard closeTimer == nil else { return }
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .init(configuration.closeTimeout)) {
            if self.outcome == nil, self.transportError == nil {
                self.transportError = .connectionLost(
                    reason: "the server did not answer our close frame within \(self.configuration.closeTimeout)")
            }
            context.close(promise: nil)
        }
    }

    private func startKeepalive(context: ChannelHandlerContext) {
        guard let keepalive = configuration.keepalive else { return }
        keepaliveTask = context.eventLoop.assumeIsolated().scheduleTask(in: .init(keepalive.interval)) {
            guard case .open = self.phase else { return }
            self.keepaliveTick(context: context, keepalive: keepalive)
            self.startKeepalive(context: context)
        }
    }

    private func keepaliveTick(context: ChannelHandlerContext, keepalive: WebSocketClientConfiguration.Keepalive) {
        guard case .open = phase, machine.state == .open else { return }
        let now = NIODeadline.now()
        // A consumer that stopped reading is not the server's fault: nothing can arrive while paused.
        if readPaused { lastActivity = now }
        guard now - lastActivity >= TimeAmount(keepalive.interval), pingSentAt == nil else { return }
        pingCounter &+= 1
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(pingCounter)
        guard let frame = machine.ping(payload) else { return }
        pingSentAt = now
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .init(keepalive.timeout)) {
            guard self.pingSentAt == now else { return }
            if self.lastActivity >= now || self.readPaused {
                self.pingSentAt = nil  // data arrived since the ping: the peer is alive
                return
            }
            if self.outcome == nil { self.outcome = .failure(.keepaliveTimeout) }
            // The peer is unreachable: a close frame would never be answered, so end TCP now.
            context.close(promise: nil)
        }
    }
}
