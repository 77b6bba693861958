import NIOCore
import NIOPosix
import NIOSSL
import WebSocket

/// The sender: answers the upgrade, then writes the same pre-framed chunk over and over, as fast as
/// the socket takes it. Sending costs it almost nothing (no framing, no compression per message);
/// with TLS it must encrypt, which is why it runs in a process of its own.
final class BlastHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let chunk: ByteBuffer
    let compressed: Bool
    /// Idle mode: send one message (compressed when negotiated) after the upgrade, then nothing.
    let idle: Bool
    /// Chunks still to send before a close frame; nil sends forever.
    var chunksLeft: Int?
    var request = ByteBuffer()
    var upgraded = false
    var closing = false

    /// - Parameter chunks: how many chunks to send before closing (1000); nil, until killed.
    init(chunk: ByteBuffer, compressed: Bool, idle: Bool, chunks: Int? = nil) {
        self.chunk = chunk
        self.compressed = compressed
        self.idle = idle
        self.chunksLeft = chunks
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the client sends later is ignored, except that it ends the connection once the
        // close frame is out (the client's answering close).
        if closing { context.close(promise: nil) }
        guard !upgraded else { return }
        var bytes = unwrapInboundIn(data)
        request.writeBuffer(&bytes)
        let text = String(buffer: request)
        guard text.contains("\r\n\r\n") else { return }
        upgraded = true
        let key =
            text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("sec-websocket-key:") }
            .map { $0.dropFirst("sec-websocket-key:".count).trimmingCharacters(in: .whitespaces) } ?? ""
        var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        response += "Sec-WebSocket-Accept: \(ClientHandshake.acceptValue(for: key))\r\n"
        if compressed {
            response += "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
        }
        response += "\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        if idle {
            var one = Workload.frames(count: 1, compressed: compressed)
            context.writeAndFlush(wrapOutboundOut(one.readSlice(length: one.readableBytes) ?? one), promise: nil)
            return
        }
        let loop = context.eventLoop.assumeIsolated()
        for _ in 0..<4 { blast(context: context, loop: loop) }
    }

    private func blast(context: ChannelHandlerContext, loop: NIOIsolatedEventLoop) {
        guard context.channel.isActive, !closing else { return }
        if let left = chunksLeft {
            guard left > 0 else {
                closing = true
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xE8])), promise: nil)
                return
            }
            chunksLeft = left - 1
        }
        context.writeAndFlush(wrapOutboundOut(chunk)).assumeIsolated().whenSuccess {
            self.blast(context: context, loop: loop)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

enum Blaster {
    /// Serves until killed; prints the port first.
    /// - Parameter messages: sends this many messages (rounded up to a chunk of 64) on each
    ///   connection, then a close frame; nil, until the client goes.
    static func serve(compressed: Bool, idle: Bool, certificate: String?, key: String?, messages: Int? = nil) async throws {
        let chunks = messages.map { ($0 + 63) / 64 }
        let chunk = Workload.frames(count: 64, compressed: compressed)
        var tls: NIOSSLContext?
        if let certificate, let key {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            )
            tls = try NIOSSLContext(configuration: configuration)
        }
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [tls, chunks] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(
                        BlastHandler(chunk: chunk, compressed: compressed, idle: idle, chunks: chunks))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        emitLine("\(server.localAddress?.port ?? 0)")
        try await server.closeFuture.get()
    }
}
