import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A stand-in CRM on the loopback interface: checks each webhook's Standard Webhooks signature,
/// answers 204 (401 when the signature does not match), and hands every delivery to `onDelivery`.
/// `callrelay demo` shows what it gets; the delivery benchmark measures with it.
public final class WebhookReceiver: Sendable {
    /// `http://127.0.0.1:PORT/hooks/calls`.
    public let url: String
    private let channel: any Channel
    private let received: NIOLockedValueBox<(count: Int, badSignatures: Int)>

    /// Deliveries so far, and how many of them had a signature that did not match.
    public var counts: (count: Int, badSignatures: Int) { received.withLockedValue { $0 } }

    /// Listens on an ephemeral loopback port. `onDelivery` runs on an event loop: it must not block.
    public static func start(
        secret: String, onDelivery: @escaping @Sendable (_ id: String, _ body: String, _ signed: Bool) -> Void
    )
        async throws -> WebhookReceiver
    {
        let signer = try WebhookSigner(secrets: [secret])
        let received = NIOLockedValueBox((count: 0, badSignatures: 0))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(signer: signer) { id, body, signed in
                            received.withLockedValue {
                                $0.count += 1
                                if !signed { $0.badSignatures += 1 }
                            }
                            onDelivery(id, body, signed)
                        })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        return WebhookReceiver(url: "http://127.0.0.1:\(port)/hooks/calls", channel: channel, received: received)
    }

    private init(url: String, channel: any Channel, received: NIOLockedValueBox<(count: Int, badSignatures: Int)>) {
        self.url = url
        self.channel = channel
        self.received = received
    }

    public func stop() async { try? await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let signer: WebhookSigner
        let onDelivery: @Sendable (String, String, Bool) -> Void
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(signer: WebhookSigner, onDelivery: @escaping @Sendable (String, String, Bool) -> Void) {
            self.signer = signer
            self.onDelivery = onDelivery
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var chunk):
                body.writeBuffer(&chunk)
            case .end:
                let text = String(buffer: body)
                let headers = head?.headers ?? [:]
                let id = headers.first(name: "webhook-id") ?? ""
                let timestamp = headers.first(name: "webhook-timestamp").flatMap(TimeInterval.init) ?? 0
                let expected = signer.headers(id: id, timestamp: Date(timeIntervalSince1970: timestamp), body: text)
                    .first { $0.name == "webhook-signature" }?.value
                let signed = expected != nil && expected == headers.first(name: "webhook-signature")
                onDelivery(id, text, signed)
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "Content-Length", value: "0")
                let status: HTTPResponseStatus = signed ? .noContent : .unauthorized
                context.write(
                    wrapOutboundOut(.head(.init(version: .http1_1, status: status, headers: responseHeaders))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
