import NIOCore
import Testing

@testable import WebSocket

@Suite("Opening handshake")
struct HandshakeTests {
    func response(
        _ handshake: ClientHandshake, extra: [String] = [], status: String = "101 Switching Protocols", accept: String? = nil
    ) -> HTTPHead {
        var text = "HTTP/1.1 \(status)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Accept: \(accept ?? ClientHandshake.acceptValue(for: handshake.key))\r\n"
        for line in extra { text += line + "\r\n" }
        text += "\r\n"
        var buffer = ByteBuffer(string: text)
        return try! HTTPHead.read(from: &buffer)!
    }

    func handshake(
        deflate: PerMessageDeflateOptions? = PerMessageDeflateOptions(), subprotocols: [String] = []
    ) -> ClientHandshake {
        ClientHandshake(url: try! WebSocketURL("ws://example.com/chat"), subprotocols: subprotocols, deflate: deflate)
    }

    func rejection(_ handshake: ClientHandshake, _ head: HTTPHead) -> String? {
        do {
            _ = try handshake.validate(head)
            return nil
        } catch {
            if error.code == .handshakeRejected { return error.reason }
            return "\(error)"
        }
    }

    @Test("computes the accept value of RFC 6455's example")
    func acceptValue() {
        #expect(ClientHandshake.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("uses a fresh 16-byte key for every connection")
    func freshKeys() {
        let keys = Set((0..<50).map { _ in handshake().key })
        #expect(keys.count == 50)
        #expect(Array(keys)[0].count == 24, "base64 of 16 bytes")
    }

    @Test("writes the request with host, key, version, offer and extra headers")
    func request() throws {
        let url = try WebSocketURL("wss://[::1]:8443/socket?x=1")
        let handshake = ClientHandshake(
            url: url, headers: [("Authorization", "xelion abc")], subprotocols: ["a", "b"],
            deflate: .init(serverNoContextTakeover: true))
        let text = String(buffer: handshake.request())
        #expect(text.hasPrefix("GET /socket?x=1 HTTP/1.1\r\nHost: [::1]:8443\r\n"))
        #expect(text.contains("Sec-WebSocket-Key: \(handshake.key)\r\n"))
        #expect(text.contains("Sec-WebSocket-Version: 13\r\n"))
        #expect(text.contains("Sec-WebSocket-Protocol: a, b\r\n"))
        #expect(
            text.contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits\r\n"))
        #expect(text.contains("Authorization: xelion abc\r\n"))
        #expect(text.hasSuffix("\r\n\r\n"))
    }

    @Test("accepts a valid upgrade and reads the negotiated parameters")
    func accepts() throws {
        let h = handshake()
        let result = try h.validate(
            response(
                h,
                extra: [
                    "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10; server_max_window_bits=\"12\""
                ]))
        #expect(result.deflate == NegotiatedDeflate(peerNoContextTakeover: true, peerMaxWindowBits: 12, localMaxWindowBits: 10))
        #expect(try h.validate(response(h)).deflate == nil, "a server may decline compression")
    }

    @Test("refuses responses that are not a valid upgrade")
    func refusesBadUpgrade() {
        let h = handshake()
        #expect(rejection(h, response(h, status: "403 Forbidden"))?.contains("403 Forbidden") == true)
        #expect(rejection(h, response(h, accept: "wrong="))?.contains("Sec-WebSocket-Accept") == true)
        var buffer = ByteBuffer(
            string:
                "HTTP/1.1 101 OK\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: h.key))\r\n\r\n"
        )
        #expect(rejection(h, try! HTTPHead.read(from: &buffer)!)?.contains("Upgrade") == true)
        buffer = ByteBuffer(
            string:
                "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: h.key))\r\n\r\n"
        )
        #expect(rejection(h, try! HTTPHead.read(from: &buffer)!)?.contains("Connection") == true)
    }

    @Test("refuses an extension or subprotocol we did not offer")
    func refusesUnoffered() {
        let plain = handshake(deflate: nil)
        #expect(
            rejection(plain, response(plain, extra: ["Sec-WebSocket-Extensions: permessage-deflate"]))?.contains("did not offer")
                == true)
        let h = handshake()
        #expect(rejection(h, response(h, extra: ["Sec-WebSocket-Extensions: x-webkit-deflate-frame"])) != nil)
        #expect(rejection(h, response(h, extra: ["Sec-WebSocket-Protocol: chat"]))?.contains("subprotocol") == true)
        let withProtocols = handshake(subprotocols: ["chat"])
        #expect(rejection(withProtocols, response(withProtocols, extra: ["Sec-WebSocket-Protocol: chat"])) == nil)
    }

    @Test(
        "refuses malformed permessage-deflate answers",
        arguments: [
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; unknown_parameter",
            "permessage-deflate, permessage-deflate",
            "permessage-deflate;",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=09",
            "permessage-deflate; server_max_window_bits=+9",
            "permessage-deflate; server_max_window_bits=09",
        ])
    func refusesMalformedDeflate(answer: String) {
        let h = handshake()
        #expect(rejection(h, response(h, extra: ["Sec-WebSocket-Extensions: \(answer)"])) != nil)
    }

    @Test("refuses a window larger than the one we asked for")
    func windowLimits() {
        let h = handshake(deflate: .init(serverMaxWindowBits: 10, clientMaxWindowBits: 12))
        #expect(
            rejection(h, response(h, extra: ["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11"])) != nil)
        #expect(
            rejection(h, response(h, extra: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=13"])) != nil)
        #expect(
            rejection(
                h,
                response(
                    h,
                    extra: ["Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; client_max_window_bits=12"]))
                == nil)
    }

    @Test("keeps the bytes that follow the response head")
    func keepsTrailingBytes() throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
        buffer.writeBytes([0x81, 0x02, 0x68, 0x69])
        let head = try HTTPHead.read(from: &buffer)
        #expect(head?.startLine.first == "HTTP/1.1")
        #expect(Array(buffer.readableBytesView) == [0x81, 0x02, 0x68, 0x69])
    }

    @Test("waits for the whole head and refuses an endless one")
    func partialHead() throws {
        var buffer = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: web")
        #expect(try HTTPHead.read(from: &buffer) == nil)
        var huge = ByteBuffer(string: "HTTP/1.1 101 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 2000))
        #expect(throws: WebSocketError.self) { _ = try HTTPHead.read(from: &huge) }
    }
}

@Suite("WebSocket URLs")
struct URLTests {
    @Test(
        "parses hosts, ports, paths and queries",
        arguments: [
            ("ws://example.com", "example.com", 80, "/", false),
            ("wss://example.com", "example.com", 443, "/", true),
            ("wss://pbx.example.com:8443/websocket/abc?x=1&y=2", "pbx.example.com", 8443, "/websocket/abc?x=1&y=2", true),
            ("ws://127.0.0.1:9000?q", "127.0.0.1", 9000, "/?q", false),
            ("ws://[::1]:8080/p", "::1", 8080, "/p", false),
            ("WSS://[2001:db8::1]/", "2001:db8::1", 443, "/", true),
            ("ws://user:pw@host:81/", "host", 81, "/", false),
        ])
    func parses(url: String, host: String, port: Int, target: String, secure: Bool) throws {
        let parsed = try WebSocketURL(url)
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed.requestTarget == target)
        #expect(parsed.isSecure == secure)
    }

    @Test(
        "refuses what is not a WebSocket URL",
        arguments: [
            "http://example.com", "example.com", "ws://", "ws://host:0/", "ws://host:70000/", "ws://host:abc/",
            "ws://host/#fragment", "ws://[::1/", "ws://host/a b",
        ])
    func refuses(url: String) {
        #expect(throws: WebSocketError.self) { _ = try WebSocketURL(url) }
    }

    @Test("writes the Host header without default ports and with IPv6 brackets")
    func hostHeader() throws {
        #expect(try WebSocketURL("wss://a.example:443/").hostHeader == "a.example")
        #expect(try WebSocketURL("ws://a.example:8080/").hostHeader == "a.example:8080")
        #expect(try WebSocketURL("ws://[::1]:8080/").hostHeader == "[::1]:8080")
        #expect(try WebSocketURL("ws://[::1]/").hostIsIPAddress)
        #expect(try WebSocketURL("ws://10.0.0.1/").hostIsIPAddress)
        #expect(try !WebSocketURL("ws://example.com/").hostIsIPAddress)
    }
}

@Suite("Socket URLs in errors")
struct SocketURLRedactionTests {
    @Test("an invalid socket URL's error names scheme and host, never the path or query that carry the credential")
    func redacted() {
        for bad in [
            "wss://pbx.example.com:99999/socket/SECRET-TOKEN?key=SECRET-KEY", "wss://user:pw@pbx.example.com:0/SECRET-TOKEN",
            "wss://pbx.example.com/SECRET TOKEN", "wss://pbx.example.com/SECRET-TOKEN#frag",
        ] {
            do {
                _ = try WebSocketURL(bad)
                Issue.record("accepted \(bad)")
            } catch {
                let text = "\(error)"
                #expect(!text.contains("SECRET"), "\(text)")
                #expect(!text.contains("pw@"), "\(text)")
                #expect(text.contains("pbx.example.com"), "\(text)")
            }
        }
        #expect(WebSocketURL.redacted("wss://pbx.example.com/a/b?c") == "wss://pbx.example.com/…")
        #expect(WebSocketURL.redacted("wss://pbx.example.com") == "wss://pbx.example.com")
    }

    @Test("a parsed socket URL describes itself without its path")
    func description() throws {
        #expect("\(try WebSocketURL("wss://pbx.example.com:8444/ws/SECRET"))" == "wss://pbx.example.com:8444/…")
        #expect("\(try WebSocketURL("ws://127.0.0.1"))" == "ws://127.0.0.1/")
    }
}
