/// Everything that can end or refuse a WebSocket connection, with a message a person understands.
///
/// A struct rather than an enum, so that a new kind of failure is not a breaking change: match on
/// ``code`` (`error.code == .keepaliveTimeout`), and read ``reason`` and ``closeCode`` for details.
public struct WebSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case invalidURL, invalidConfiguration, connectTimeout, connectFailed, handshakeTimeout, handshakeRejected
            case tls, protocolViolation, keepaliveTimeout, connectionLost, alreadyClosed, messageTooLarge
        }

        let base: Base

        /// The URL is not a usable `ws://` or `wss://` URL.
        public static let invalidURL = Code(base: .invalidURL)
        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(base: .invalidConfiguration)
        /// TCP (and TLS) did not connect within the configured time.
        public static let connectTimeout = Code(base: .connectTimeout)
        /// The TCP connection could not be made.
        public static let connectFailed = Code(base: .connectFailed)
        /// The server did not finish the opening handshake within the configured time.
        public static let handshakeTimeout = Code(base: .handshakeTimeout)
        /// The server's answer to the opening handshake is not a valid upgrade.
        public static let handshakeRejected = Code(base: .handshakeRejected)
        /// TLS failed: certificate verification, hostname mismatch, or the CA file.
        public static let tls = Code(base: .tls)
        /// The peer broke the protocol; we closed with ``WebSocketError/closeCode``.
        public static let protocolViolation = Code(base: .protocolViolation)
        /// No pong and no data arrived within the keepalive timeout: the peer or the path is gone.
        public static let keepaliveTimeout = Code(base: .keepaliveTimeout)
        /// The TCP connection ended without a closing handshake.
        public static let connectionLost = Code(base: .connectionLost)
        /// A send or close was attempted after our close frame went out.
        public static let alreadyClosed = Code(base: .alreadyClosed)
        /// An outgoing message is larger than the configured maximum.
        public static let messageTooLarge = Code(base: .messageTooLarge)

        public var description: String { base.rawValue }
    }

    enum Base: Sendable, Equatable {
        case invalidURL(String, reason: String)
        case invalidConfiguration(String)
        case connectTimeout(host: String, port: Int)
        case connectFailed(host: String, port: Int, reason: String)
        case handshakeTimeout
        case handshakeRejected(reason: String)
        case tls(reason: String)
        case protocolViolation(code: WebSocketCloseCode, reason: String)
        case keepaliveTimeout
        case connectionLost(reason: String)
        case alreadyClosed
        case messageTooLarge(size: Int, limit: Int)
    }

    let base: Base

    init(_ base: Base) { self.base = base }

    public static func invalidURL(_ url: String, reason: String) -> Self { .init(.invalidURL(url, reason: reason)) }
    public static func invalidConfiguration(_ reason: String) -> Self { .init(.invalidConfiguration(reason)) }
    public static func connectTimeout(host: String, port: Int) -> Self { .init(.connectTimeout(host: host, port: port)) }
    public static func connectFailed(host: String, port: Int, reason: String) -> Self {
        .init(.connectFailed(host: host, port: port, reason: reason))
    }
    public static let handshakeTimeout = Self(.handshakeTimeout)
    public static func handshakeRejected(reason: String) -> Self { .init(.handshakeRejected(reason: reason)) }
    public static func tls(reason: String) -> Self { .init(.tls(reason: reason)) }
    public static func protocolViolation(code: WebSocketCloseCode, reason: String) -> Self {
        .init(.protocolViolation(code: code, reason: reason))
    }
    public static let keepaliveTimeout = Self(.keepaliveTimeout)
    public static func connectionLost(reason: String) -> Self { .init(.connectionLost(reason: reason)) }
    public static let alreadyClosed = Self(.alreadyClosed)
    public static func messageTooLarge(size: Int, limit: Int) -> Self { .init(.messageTooLarge(size: size, limit: limit)) }

    /// The kind of failure.
    public var code: Code {
        switch base {
        case .invalidURL: .invalidURL
        case .invalidConfiguration: .invalidConfiguration
        case .connectTimeout: .connectTimeout
        case .connectFailed: .connectFailed
        case .handshakeTimeout: .handshakeTimeout
        case .handshakeRejected: .handshakeRejected
        case .tls: .tls
        case .protocolViolation: .protocolViolation
        case .keepaliveTimeout: .keepaliveTimeout
        case .connectionLost: .connectionLost
        case .alreadyClosed: .alreadyClosed
        case .messageTooLarge: .messageTooLarge
        }
    }

    /// What went wrong in detail, where there is more to say than the code.
    public var reason: String? {
        switch base {
        case .invalidURL(_, let reason), .invalidConfiguration(let reason), .connectFailed(_, _, let reason),
            .handshakeRejected(let reason), .tls(let reason), .protocolViolation(_, let reason), .connectionLost(let reason):
            reason
        case .connectTimeout, .handshakeTimeout, .keepaliveTimeout, .alreadyClosed, .messageTooLarge: nil
        }
    }

    /// The code we closed the connection with, after a protocol violation.
    public var closeCode: WebSocketCloseCode? {
        if case .protocolViolation(let code, _) = base { return code }
        return nil
    }

    public var description: String {
        switch base {
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
