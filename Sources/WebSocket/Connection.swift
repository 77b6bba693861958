import NIOCore

/// An open WebSocket connection: messages in as an `AsyncSequence`, ``send(_:)`` and ``close(code:reason:)``
/// out, and how it ended from ``closeResult``.
///
/// ```swift
/// let socket = try await WebSocketClient.connect(to: "wss://example.com/events")
/// try await socket.send(.text(#"{"hello":1}"#))
/// for try await message in socket.messages { print(message) }
/// let close = try await socket.closeResult  // the server's code and reason, or the error
/// ```
public final class WebSocketConnection: Sendable {
    /// Complete messages, in order. Ends normally after a closing handshake; throws the
    /// ``WebSocketError`` that ended the connection otherwise. Iterate it once.
    public let messages: WebSocketInboundStream
    /// The subprotocol the server chose, if any.
    public let subprotocol: String?
    /// The negotiated permessage-deflate parameters, or nil when messages are not compressed.
    public let compression: NegotiatedDeflate?
    private let channel: any Channel
    private let closeFuture: EventLoopFuture<WebSocketCloseFrame>

    init(
        channel: any Channel,
        messages: WebSocketInboundStream,
        handshake: ClientHandshake.Result,
        closeFuture: EventLoopFuture<WebSocketCloseFrame>
    ) {
        self.channel = channel
        self.messages = messages
        self.subprotocol = handshake.subprotocol
        self.compression = handshake.deflate
        self.closeFuture = closeFuture
    }

    /// Sends one message; returns once it has been written to the socket.
    public func send(_ message: WebSocketMessage) async throws(WebSocketError) {
        try await perform(.message(message))
    }

    /// Sends a ping with this payload (at most 125 bytes).
    public func ping(_ payload: ByteBuffer = ByteBuffer()) async throws(WebSocketError) {
        guard payload.readableBytes <= 125 else { throw .messageTooLarge(size: payload.readableBytes, limit: 125) }
        try await perform(.ping(payload))
    }

    /// Starts the closing handshake and waits until the connection has ended. Returns the server's
    /// answering close frame, or throws what ended the connection instead.
    @discardableResult
    public func close(
        code: WebSocketCloseCode = .normalClosure, reason: String = ""
    ) async throws(WebSocketError)
        -> WebSocketCloseFrame
    {
        do {
            try await perform(.close(code, reason: reason))
        } catch .alreadyClosed {
            // Already closing: the result below is what counts.
        }
        return try await closeResult
    }

    /// Starts the closing handshake and returns once the close frame is written, without waiting
    /// for the server's answer: for a client that is going away whatever the server says.
    public func sendClose(code: WebSocketCloseCode = .normalClosure, reason: String = "") async throws(WebSocketError) {
        try await perform(.close(code, reason: reason))
    }

    /// Waits until the connection has ended: the peer's close frame after a closing handshake, or the
    /// error that ended it without one.
    public var closeResult: WebSocketCloseFrame {
        get async throws(WebSocketError) {
            do {
                return try await closeFuture.get()
            } catch let error as WebSocketError {
                throw error
            } catch {
                throw .connectionLost(reason: "\(error)")
            }
        }
    }

    private func perform(_ command: WebSocketOutboundCommand) async throws(WebSocketError) {
        do {
            try await channel.writeAndFlush(command).get()
        } catch let error as WebSocketError {
            throw error
        } catch {
            throw .alreadyClosed
        }
    }
}
