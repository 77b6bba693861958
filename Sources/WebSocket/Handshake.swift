import Crypto
import Foundation
import NIOCore

/// The client side of the opening handshake (RFC 6455 §4.1), with a fresh random key per connection.
public struct ClientHandshake: Sendable {
    public let url: WebSocketURL
    public let key: String
    public var headers: [(String, String)]
    public var subprotocols: [String]
    public var deflate: PerMessageDeflateOptions?

    /// What the server agreed to.
    public struct Result: Sendable, Equatable {
        public var subprotocol: String?
        public var deflate: NegotiatedDeflate?
    }

    public init(
        url: WebSocketURL,
        headers: [(String, String)] = [],
        subprotocols: [String] = [],
        deflate: PerMessageDeflateOptions? = nil
    ) {
        self.url = url
        var generator = SystemRandomNumberGenerator()
        let nonce = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        self.key = Data(nonce).base64EncodedString()
        self.headers = headers
        self.subprotocols = subprotocols
        self.deflate = deflate
    }

    /// The GET request that asks for the upgrade.
    public func request() -> ByteBuffer {
        var text = "GET \(url.requestTarget) HTTP/1.1\r\n"
        text += "Host: \(url.hostHeader)\r\n"
        text += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !subprotocols.isEmpty { text += "Sec-WebSocket-Protocol: \(subprotocols.joined(separator: ", "))\r\n" }
        if let deflate { text += "Sec-WebSocket-Extensions: \(deflate.offer)\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return ByteBuffer(string: text)
    }

    /// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + the RFC's GUID)).
    public static func acceptValue(for key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Data((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))
        return Data(digest).base64EncodedString()
    }

    /// Checks the server's answer; the error says what was wrong with it.
    func validate(_ head: HTTPHead) throws(WebSocketError) -> Result {
        guard head.startLine.count >= 2, head.startLine[0].hasPrefix("HTTP/1."), let status = Int(head.startLine[1]) else {
            throw .handshakeRejected(reason: "not an HTTP/1.1 response: '\(head.startLine.joined(separator: " "))'")
        }
        guard status == 101 else {
            let reason = head.startLine.count > 2 ? " \(head.startLine[2])" : ""
            throw .handshakeRejected(reason: "the server answered \(status)\(reason) instead of 101 Switching Protocols")
        }
        guard head.tokens("Upgrade").contains("websocket") else {
            throw .handshakeRejected(reason: "the Upgrade header is not 'websocket'")
        }
        guard head.tokens("Connection").contains("upgrade") else {
            throw .handshakeRejected(reason: "the Connection header does not contain 'Upgrade'")
        }
        let accept = head.values("Sec-WebSocket-Accept")
        guard accept.count == 1, accept[0] == Self.acceptValue(for: key) else {
            throw .handshakeRejected(reason: "Sec-WebSocket-Accept is missing or does not match our key")
        }
        var subprotocol: String?
        let chosen = head.values("Sec-WebSocket-Protocol").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        if !chosen.isEmpty {
            guard chosen.count == 1, subprotocols.contains(chosen[0]) else {
                throw .handshakeRejected(
                    reason: "the server chose subprotocol '\(chosen.joined(separator: ","))', which we did not offer")
            }
            subprotocol = chosen[0]
        }
        let negotiated = try NegotiatedDeflate.accept(response: head.values("Sec-WebSocket-Extensions"), offered: deflate)
        return Result(subprotocol: subprotocol, deflate: negotiated)
    }
}
