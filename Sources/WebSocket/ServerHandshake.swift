import Foundation
import NIOCore

/// The server side of the opening handshake (RFC 6455 §4.2): checks the request and answers it,
/// accepting permessage-deflate when the client offers it.
public enum ServerHandshake {
    /// What the server agreed to, and the request's path.
    public struct Accepted: Sendable {
        public var path: String
        public var response: ByteBuffer
        public var deflate: NegotiatedDeflate?
    }

    /// - Parameter compression: whether to accept a permessage-deflate offer; when accepted, the
    ///   server compresses each message on its own (no context takeover), keeping no zlib state idle.
    static func accept(_ head: HTTPHead, compression: Bool) throws(WebSocketError) -> Accepted {
        guard head.startLine.count == 3, head.startLine[0] == "GET", head.startLine[2].hasPrefix("HTTP/1.1") else {
            throw .handshakeRejected(reason: "not an HTTP/1.1 GET request")
        }
        guard head.tokens("Upgrade").contains("websocket"), head.tokens("Connection").contains("upgrade") else {
            throw .handshakeRejected(reason: "not a WebSocket upgrade")
        }
        guard head.values("Sec-WebSocket-Version").first == "13" else {
            throw .handshakeRejected(reason: "unsupported Sec-WebSocket-Version")
        }
        guard let key = head.values("Sec-WebSocket-Key").first, Data(base64Encoded: key)?.count == 16 else {
            throw .handshakeRejected(reason: "missing or malformed Sec-WebSocket-Key")
        }
        var text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: key))\r\n"
        var deflate: NegotiatedDeflate?
        if compression,
            let offer = try? ExtensionHeader.parse(head.values("Sec-WebSocket-Extensions")).first(where: {
                $0.name == "permessage-deflate"
            })
        {
            var agreed = NegotiatedDeflate(localNoContextTakeover: true, compressionThreshold: 256)
            var answer = ["permessage-deflate", "server_no_context_takeover"]
            for (name, value) in offer.parameters {
                switch name {
                case "client_no_context_takeover":
                    agreed.peerNoContextTakeover = true
                    answer.append(name)
                case "server_max_window_bits":
                    if let bits = value.flatMap(Int.init), (9...15).contains(bits) {
                        agreed.localMaxWindowBits = bits
                        answer.append("server_max_window_bits=\(bits)")
                    }
                case "client_max_window_bits":
                    if let bits = value.flatMap(Int.init), (8...15).contains(bits) {
                        agreed.peerMaxWindowBits = bits
                        answer.append("client_max_window_bits=\(bits)")
                    }
                default: break
                }
            }
            deflate = agreed
            text += "Sec-WebSocket-Extensions: \(answer.joined(separator: "; "))\r\n"
        }
        text += "\r\n"
        return Accepted(path: head.startLine[1], response: ByteBuffer(string: text), deflate: deflate)
    }
}
