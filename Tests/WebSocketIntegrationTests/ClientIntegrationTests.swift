import Foundation
import NIOCore
import TestSupport
import Testing
import WebSocket

/// Our client against the Python `websockets` package, an independent implementation.
@Suite("Client against the websockets package", .timeLimit(.minutes(2)))
struct ClientIntegrationTests {
    let peer: WebSocketPeer.Ports

    init() async throws { peer = try await offThread { try WebSocketPeer.start() } }

    func connect(
        _ url: String, _ configuration: WebSocketClientConfiguration = .init()
    ) async throws(WebSocketError) -> WebSocketConnection {
        try await WebSocketClient.connect(to: url, configuration: configuration)
    }

    func collect(_ connection: WebSocketConnection) async throws -> [WebSocketMessage] {
        var messages: [WebSocketMessage] = []
        for try await message in connection.messages { messages.append(message) }
        return messages
    }

    static let compressionCases: [(String, NegotiatedDeflate?)] = [
        ("plain", nil),
        ("deflate", NegotiatedDeflate()),
        ("server_no_context_takeover", NegotiatedDeflate(peerNoContextTakeover: true)),
        ("client_no_context_takeover", NegotiatedDeflate(localNoContextTakeover: true)),
        ("server_max_window_bits", NegotiatedDeflate(peerMaxWindowBits: 10)),
        ("client_max_window_bits", NegotiatedDeflate(localMaxWindowBits: 10)),
    ]

    @Test("echoes text and binary under each permessage-deflate parameter", arguments: compressionCases)
    func echoWithCompression(config: String, expected: NegotiatedDeflate?) async throws {
        let socket = try await connect(peer.url(config, "/echo"))
        #expect(socket.compression?.peerNoContextTakeover == expected?.peerNoContextTakeover)
        #expect(socket.compression?.localNoContextTakeover == expected?.localNoContextTakeover)
        #expect(socket.compression?.peerMaxWindowBits == expected?.peerMaxWindowBits)
        #expect(socket.compression?.localMaxWindowBits == expected?.localMaxWindowBits)
        let sent: [WebSocketMessage] = [
            .text("small"),
            .text(String(repeating: #"{"callId":"1234","event":"newCallEvent"}"#, count: 200)),
            .binary(ByteBuffer(bytes: (0..<3000).map { UInt8($0 % 251) })),
            .text(String(repeating: "again, to exercise the shared window ", count: 100)),
        ]
        var iterator = socket.messages.makeAsyncIterator()
        for message in sent {
            try await socket.send(message)
            #expect(try await iterator.next() == message)
        }
        let close = try await socket.close(code: .normalClosure, reason: "bye")
        #expect(close.code == .normalClosure)
    }

    @Test("reassembles fragmented text and binary messages", arguments: ["", "&binary=1"])
    func fragmented(binary: String) async throws {
        let socket = try await connect(peer.url("deflate", "/send?n=5&size=3000&fragment=1\(binary)"))
        let messages = try await collect(socket)
        #expect(messages.count == 5)
        for (index, message) in messages.enumerated() {
            let data: Data
            switch message {
            case .text(let text): data = Data(text.utf8)
            case .binary(let buffer): data = Data(buffer.readableBytesView)
            }
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(object?["seq"] as? Int == index)
        }
        #expect(try await socket.closeResult == WebSocketCloseFrame(code: .normalClosure, reason: "done"))
    }

    @Test("answers the server's ping with its payload")
    func serverPing() async throws {
        let socket = try await connect(peer.url("plain", "/ping"))
        #expect(try await collect(socket) == [.text("pong:0102" + "68656c6c6f")])
        #expect(try await socket.closeResult.code == .normalClosure)
    }

    @Test("answers pings while the application is not reading")
    func pingWhileConsumerIdle() async throws {
        let socket = try await connect(peer.url("plain", "/slow?n=40"))
        // Wait for the end of the connection before reading a single message.
        let close = try await socket.closeResult
        #expect(close.reason == "slow done")
        let messages = try await collect(socket)
        #expect(messages.count == 41)
        #expect(messages.last == .text("pong-received"))
    }

    @Test("reports the code and reason of a server that closes")
    func serverCloses() async throws {
        let socket = try await connect(peer.url("plain", "/close?code=4000&reason=bye%20now"))
        #expect(try await collect(socket).isEmpty)
        #expect(try await socket.closeResult == WebSocketCloseFrame(code: WebSocketCloseCode(4000), reason: "bye now"))
    }

    @Test("detects a server that vanished, within interval plus timeout")
    func vanishedServer() async throws {
        let configuration = WebSocketClientConfiguration(
            keepalive: .init(interval: .milliseconds(300), timeout: .milliseconds(300)))
        let socket = try await connect(peer.url("plain", "/vanish"), configuration)
        await #expect(throws: WebSocketError.keepaliveTimeout) { _ = try await socket.closeResult }
        await #expect(throws: WebSocketError.keepaliveTimeout) { _ = try await collect(socket) }
    }

    @Test("reports a TCP reset as a lost connection")
    func reset() async throws {
        let socket = try await connect(peer.url("plain", "/reset"))
        do {
            _ = try await socket.closeResult
            Issue.record("a reset must not look like a clean close")
        } catch {
            guard error.code == .connectionLost else {
                Issue.record("expected connectionLost, got \(error)")
                return
            }
        }
    }

    @Test("a message that inflates past the limit closes with 1009")
    func compressionBomb() async throws {
        let configuration = WebSocketClientConfiguration(limits: .init(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20))
        // Eight times the limit; a bigger bomb would hold the shared Python peer's event loop while it
        // compresses, long enough under CI load to time out other tests' closing handshakes.
        let socket = try await connect(peer.url("deflate", "/bomb?size=8388608"), configuration)
        await #expect(
            throws: WebSocketError.protocolViolation(code: .messageTooBig, reason: "message inflates to more than 1048576 bytes")
        ) {
            _ = try await socket.closeResult
        }
    }

    @Test("sends extra headers and the permessage-deflate offer; none with compression off")
    func requestHeaders() async throws {
        var configuration = WebSocketClientConfiguration(headers: [("X-Tenant", "acme")])
        var socket = try await connect(peer.url("plain", "/headers"), configuration)
        guard case .text(let text) = try await collect(socket).first else { throw PeerError(description: "no headers message") }
        let headers = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
        #expect(headers?["x-tenant"] == "acme")
        #expect(headers?["sec-websocket-extensions"] == "permessage-deflate; client_max_window_bits")
        configuration.compression = nil
        socket = try await connect(peer.url("plain", "/headers"), configuration)
        guard case .text(let plain) = try await collect(socket).first else { throw PeerError(description: "no headers message") }
        #expect(!plain.contains("sec-websocket-extensions"))
    }

    @Test("verifies TLS against the given CA and the host name")
    func tls() async throws {
        let trusted = WebSocketClientConfiguration(caFile: peer.caFile)
        let socket = try await connect(peer.url("tls", "/echo", secure: true, host: "localhost"), trusted)
        try await socket.send(.text("over TLS"))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("over TLS"))
        #expect(socket.compression != nil)
        try await socket.close()

        // Without the test CA the certificate is not trusted.
        await #expect(throws: WebSocketError.self) {
            _ = try await connect(peer.url("tls", "/echo", secure: true, host: "localhost"))
        }
        // The certificate names only "localhost", not 127.0.0.1.
        do {
            _ = try await connect(peer.url("tls", "/echo", secure: true), trusted)
            Issue.record("a certificate for another name must be refused")
        } catch {
            guard error.code == .tls else { throw error }
        }
    }

    @Test("fails clearly when the upgrade is refused, nobody listens, or nothing answers")
    func connectFailures() async throws {
        await #expect(
            throws: WebSocketError.handshakeRejected(
                reason: "the server answered 403 Forbidden instead of 101 Switching Protocols")
        ) {
            _ = try await connect(peer.url("plain", "/forbidden"))
        }
        do {
            _ = try await connect("ws://127.0.0.1:\(unusedPort())/")
            Issue.record("connecting to a closed port must fail")
        } catch {
            guard error.code == .connectFailed else { throw error }
        }
        let impatient = WebSocketClientConfiguration(handshakeTimeout: .milliseconds(300))
        await #expect(throws: WebSocketError.handshakeTimeout) { _ = try await connect(peer.url("silent", "/"), impatient) }
    }

    @Test("connects to an IPv6 literal")
    func ipv6() async throws {
        let port = try #require(peer.ports["plain6"], "the test server could not listen on ::1")
        let socket = try await connect("ws://[::1]:\(port)/echo")
        try await socket.send(.text("over IPv6"))
        var iterator = socket.messages.makeAsyncIterator()
        #expect(try await iterator.next() == .text("over IPv6"))
        try await socket.close()
    }
}
