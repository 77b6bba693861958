import NIOCore

/// What a ``WebSocketConnection`` asks of its channel handler; written into the pipeline.
enum WebSocketOutboundCommand: Sendable {
    case message(WebSocketMessage)
    case ping(ByteBuffer)
    case close(WebSocketCloseCode, reason: String)
}
