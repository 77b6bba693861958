import NIOCore

/// A server-side connection as the application sees it: send, close, and who it is.
public struct WebSocketServerConnection: Sendable, Hashable {
    let channel: any Channel
    /// The request path of the upgrade (with its query).
    public let path: String

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.channel === rhs.channel }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(channel)) }

    /// Sends a message; it is dropped if the connection is closing.
    public func send(_ message: WebSocketMessage) {
        channel.writeAndFlush(WebSocketOutboundCommand.message(message), promise: nil)
    }

    /// Starts the closing handshake.
    public func close(code: WebSocketCloseCode = .normalClosure, reason: String = "") {
        channel.writeAndFlush(WebSocketOutboundCommand.close(code, reason: reason), promise: nil)
    }

    /// Ends TCP at once, without a close frame (to simulate a crash or a reset).
    public func abort() { channel.close(promise: nil) }
}

/// What a server application does with its connections. Called on the connection's event loop.
public protocol WebSocketServerDelegate: Sendable {
    func opened(_ connection: WebSocketServerConnection)
    func received(_ message: WebSocketMessage, on connection: WebSocketServerConnection)
    func closed(_ connection: WebSocketServerConnection)
}

/// Serves one connection in the server role with the same codec and state machine as the client:
/// reads the upgrade request, answers it, then echoes pings, reassembles messages and hands them to
/// the delegate. Masking is required of the client; nothing is masked on send.
public final class WebSocketServerHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Never
    public typealias OutboundIn = WebSocketOutboundCommand
    public typealias OutboundOut = ByteBuffer

    private let delegate: any WebSocketServerDelegate
    private let limits: WebSocketConnectionStateMachine.Limits
    private let compression: Bool
    private var machine = WebSocketConnectionStateMachine(role: .server)
    private var request = ByteBuffer()
    /// Bytes of a frame that has not fully arrived.
    private var partial = PartialFrame()
    private var connection: WebSocketServerConnection?

    public init(
        delegate: any WebSocketServerDelegate, limits: WebSocketConnectionStateMachine.Limits = .init(), compression: Bool = true
    ) {
        self.delegate = delegate
        self.limits = limits
        self.compression = compression
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard let connection else {
            request.writeBuffer(&bytes)
            do {
                guard let head = try HTTPHead.read(from: &request) else { return }
                let accepted = try ServerHandshake.accept(head, compression: compression)
                machine = WebSocketConnectionStateMachine(role: .server, limits: limits, deflate: accepted.deflate)
                context.writeAndFlush(wrapOutboundOut(accepted.response), promise: nil)
                let opened = WebSocketServerConnection(channel: context.channel, path: accepted.path)
                self.connection = opened
                delegate.opened(opened)
                if request.readableBytes > 0 { process(context: context, connection: opened, read: request) }
                request = ByteBuffer()
            } catch {
                context.writeAndFlush(
                    wrapOutboundOut(
                        ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
                )
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
            return
        }
        process(context: context, connection: connection, read: bytes)
    }

    private func process(context: ChannelHandlerContext, connection: WebSocketServerConnection, read: ByteBuffer) {
        var bytes = partial.bytes(adding: read)
        defer { partial.keep(bytes) }
        loop: while true {
            switch machine.read(&bytes.buffer) {
            case .needMoreData: break loop
            case .deliverText(let text): delegate.received(.text(text.string), on: connection)
            case .deliverBinary(let data): delegate.received(.binary(data), on: connection)
            case .send(let bytes): context.write(wrapOutboundOut(bytes), promise: nil)
            case .pongReceived: break
            case .closeReceived(_, let reply):
                // The server ends TCP once the closing handshake is done (RFC 6455 §7.1.1).
                if let reply {
                    context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil)
                    }
                } else {
                    context.close(promise: nil)
                }
            case .fail(_, let frame):
                if let frame {
                    context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in context.close(promise: nil)
                    }
                } else {
                    context.close(promise: nil)
                }
            }
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if connection != nil, partial.isEmpty {
            machine.releaseIdleResources()
            partial.releaseSpare()
        }
        context.flush()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard connection != nil else {
            promise?.fail(WebSocketError.alreadyClosed)
            return
        }
        do {
            guard let bytes = try machine.encode(unwrapOutboundIn(data)) else { return promise?.succeed(()) ?? () }
            context.write(wrapOutboundOut(bytes), promise: promise)
        } catch {
            promise?.fail(error)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        machine.transportClosed()
        if let connection { delegate.closed(connection) }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
