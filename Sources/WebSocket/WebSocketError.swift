/// Everything that can end or refuse a WebSocket connection, with a message a person understands.
public enum WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not a usable `ws://` or `wss://` URL.
    case invalidURL(String, reason: String)
    /// A configuration value is out of range.
    case invalidConfiguration(String)
    /// TCP (and TLS) did not connect within the configured time.
    case connectTimeout(host: String, port: Int)
    /// The TCP connection could not be made.
    case connectFailed(host: String, port: Int, reason: String)
    /// The server did not finish the opening handshake within the configured time.
    case handshakeTimeout
    /// The server's answer to the opening handshake is not a valid upgrade.
    case handshakeRejected(reason: String)
    /// TLS failed: certificate verification, hostname mismatch, or the CA file.
    case tls(reason: String)
    /// The peer broke the protocol; we closed with `code` (RFC 6455 §7.1.7).
    case protocolViolation(code: WebSocketCloseCode, reason: String)
    /// No pong and no data arrived within the keepalive timeout: the peer or the path is gone.
    case keepaliveTimeout
    /// The TCP connection ended without a closing handshake.
    case connectionLost(reason: String)
    /// A send or close was attempted after our close frame went out.
    case alreadyClosed
    /// An outgoing message is larger than the configured maximum.
    case messageTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): return "invalid WebSocket URL '\(url)': \(reason)"
        case .invalidConfiguration(let reason): return "invalid WebSocket configuration: \(reason)"
        case .connectTimeout(let host, let port): return "timed out connecting to \(host):\(port)"
        case .connectFailed(let host, let port, let reason):
            return "could not connect to \(host):\(port): \(reason)"
        case .handshakeTimeout: return "the server did not complete the WebSocket handshake in time"
        case .handshakeRejected(let reason): return "WebSocket handshake failed: \(reason)"
        case .tls(let reason): return "TLS failed: \(reason)"
        case .protocolViolation(let code, let reason):
            return "WebSocket protocol error, closed with \(code): \(reason)"
        case .keepaliveTimeout: return "no pong or data within the keepalive timeout; the connection is dead"
        case .connectionLost(let reason): return "connection lost without a closing handshake: \(reason)"
        case .alreadyClosed: return "the WebSocket is closing or closed"
        case .messageTooLarge(let size, let limit):
            return "message of \(size) bytes exceeds the limit of \(limit) bytes"
        }
    }
}
