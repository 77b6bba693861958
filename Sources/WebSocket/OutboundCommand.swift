import NIOCore

/// What a connection asks of its channel handler, written into the pipeline: the handler turns it into
/// frames with the state machine, so nothing bypasses the protocol's rules.
public enum WebSocketOutboundCommand: Sendable {
    case message(WebSocketMessage)
    case ping(ByteBuffer)
    case close(WebSocketCloseCode, reason: String)
}
