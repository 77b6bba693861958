/// How a ``WebSocketClient`` connects and what it tolerates. The defaults suit a long-lived
/// production connection.
public struct WebSocketClientConfiguration: Sendable {
    /// Extra request headers for the opening handshake.
    public var headers: [(name: String, value: String)]
    /// Subprotocols to offer; the server may pick one, and picking one we did not offer fails.
    public var subprotocols: [String]
    /// permessage-deflate to offer, or nil to offer no compression.
    public var compression: PerMessageDeflateOptions?
    public var limits: WebSocketConnectionStateMachine.Limits
    /// Time allowed for TCP to connect.
    public var connectTimeout: Duration
    /// Time allowed from TCP connect to the 101 response, TLS included.
    public var handshakeTimeout: Duration
    /// How long we wait for the server to end TCP after the closing handshake, or after we failed the
    /// connection, before we end it ourselves (RFC 6455 §7.1.1).
    public var closeTimeout: Duration
    /// Pings on an interval; nil turns keepalive off.
    public var keepalive: Keepalive?
    /// A PEM file of CA certificates trusted in addition to the system's roots (for `wss://`).
    /// Certificate and hostname verification are always on.
    public var caFile: String?
    /// Complete messages buffered for a slow consumer before reading from the socket stops.
    public var inboundBufferMessages: Int
    /// Bytes of complete messages buffered for a slow consumer before reading stops, whichever of
    /// the two bounds comes first.
    public var inboundBufferBytes: Int

    /// Keepalive: after `interval` without anything received a ping goes out; if neither its pong
    /// nor any other data arrives within `timeout`, the connection is declared dead and closed, so a
    /// half-open TCP connection is found within `interval + timeout`.
    public struct Keepalive: Sendable, Hashable {
        public var interval: Duration
        public var timeout: Duration
        public init(interval: Duration = .seconds(20), timeout: Duration = .seconds(20)) {
            self.interval = interval
            self.timeout = timeout
        }
    }

    public init(
        headers: [(name: String, value: String)] = [],
        subprotocols: [String] = [],
        compression: PerMessageDeflateOptions? = PerMessageDeflateOptions(),
        limits: WebSocketConnectionStateMachine.Limits = .init(),
        connectTimeout: Duration = .seconds(10),
        handshakeTimeout: Duration = .seconds(10),
        closeTimeout: Duration = .seconds(3),
        keepalive: Keepalive? = Keepalive(),
        caFile: String? = nil,
        inboundBufferMessages: Int = 64,
        inboundBufferBytes: Int = 16 << 20
    ) {
        self.inboundBufferBytes = inboundBufferBytes
        self.headers = headers
        self.subprotocols = subprotocols
        self.compression = compression
        self.limits = limits
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.keepalive = keepalive
        self.caFile = caFile
        self.inboundBufferMessages = inboundBufferMessages
    }

    func validate() throws(WebSocketError) {
        if let problem = compression?.validate() { throw .invalidConfiguration(problem) }
        for (name, value) in headers
        where name.contains(where: { $0 == ":" || $0.isNewline || $0 == " " })
            || value.contains(where: \.isNewline)
        {
            throw .invalidConfiguration("request header '\(name)' is malformed")
        }
    }
}
