import NIOCore

/// One WebSocket frame, payload already unmasked.
public struct WebSocketFrame: Sendable, Equatable {
    public var fin: Bool
    /// RSV1: set on the first frame of a compressed message when permessage-deflate is in use.
    public var rsv1: Bool
    public var rsv2: Bool
    public var rsv3: Bool
    public var opcode: WebSocketOpcode
    public var payload: ByteBuffer

    public init(
        fin: Bool = true,
        rsv1: Bool = false,
        rsv2: Bool = false,
        rsv3: Bool = false,
        opcode: WebSocketOpcode,
        payload: ByteBuffer = ByteBuffer()
    ) {
        self.fin = fin
        self.rsv1 = rsv1
        self.rsv2 = rsv2
        self.rsv3 = rsv3
        self.opcode = opcode
        self.payload = payload
    }
}

/// Which end of the connection we are: it decides who masks (RFC 6455 §5.3).
public enum WebSocketRole: Sendable, Hashable {
    /// Masks every frame it sends; rejects masked frames.
    case client
    /// Sends unmasked frames; requires every received frame to be masked.
    case server
}
