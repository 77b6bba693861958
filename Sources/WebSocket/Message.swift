import NIOCore

/// A complete WebSocket data message, reassembled from its fragments and decompressed.
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message; its UTF-8 has been validated.
    case text(String)
    /// A binary message.
    case binary(ByteBuffer)
}

/// How a connection ended once the closing handshake is done.
public struct WebSocketCloseFrame: Sendable, Equatable, CustomStringConvertible {
    /// The code the peer sent; ``WebSocketCloseCode/noStatusReceived`` when its close frame had none.
    public var code: WebSocketCloseCode
    public var reason: String

    public init(code: WebSocketCloseCode, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason.isEmpty ? "\(code)" : "\(code): \(reason)" }
}
