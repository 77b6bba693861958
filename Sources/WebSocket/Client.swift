import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import SwiftASN1
import X509

/// Opens client WebSocket connections over TCP or TLS.
public enum WebSocketClient {
    /// Connects, completes the opening handshake and returns the open connection.
    ///
    /// - Throws: ``WebSocketError`` for a bad URL, a connect or handshake timeout, a refused or
    ///   invalid upgrade, or a TLS failure (the certificate and the host name are always verified).
    public static func connect(
        to url: String,
        configuration: WebSocketClientConfiguration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "websocket")
    ) async throws(WebSocketError) -> WebSocketConnection {
        let url = try WebSocketURL(url)
        try configuration.validate()
        let tls = url.isSecure ? try TLSContexts.shared.context(caFile: configuration.caFile) : nil
        // Why the certificate was refused, for the error: the handshake's own says only that it was.
        let refusal = NIOLockedValueBox<String?>(nil)
        let handshake = ClientHandshake(
            url: url,
            headers: configuration.headers,
            subprotocols: configuration.subprotocols,
            deflate: configuration.compression
        )
        let eventLoop = eventLoopGroup.next()
        let setup = eventLoop.makePromise(of: Setup.self)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allocator, value: ConnectionMemory.allocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let sni = url.hostIsIPAddress ? nil : url.host
                        let verification = tls.verification
                        // Inside the handshake, so that a certificate for another name fails it.
                        let handler = try NIOSSLClientHandler(context: tls.context, serverHostname: sni) {
                            certificates, promise in
                            Task(executorPreference: VerificationExecutor.shared) {
                                let (valid, reason) = await verification.verify(
                                    certificates, host: url.host, hostIsIPAddress: url.hostIsIPAddress)
                                if let reason { refusal.withLockedValue { $0 = reason } }
                                promise.succeed(valid ? .certificateVerified : .failed)
                            }
                        }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        makeHandler(channel: channel, handshake: handshake, configuration: configuration, setup: setup)
                    )
                }
            }
        logger.debug("connecting", metadata: ["url": "\(url.isSecure ? "wss" : "ws")://\(url.hostHeader)"])
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: url.host, port: url.port).get()
        } catch {
            setup.fail(error)
            if case ChannelError.connectTimeout = error { throw .connectTimeout(host: url.host, port: url.port) }
            throw .connectFailed(host: url.host, port: url.port, reason: "\(error)")
        }
        do {
            let parts = try await setup.futureResult.get()
            let result = try await parts.handshake.get()
            return WebSocketConnection(
                channel: channel,
                messages: parts.sequence,
                handshake: result,
                closeFuture: parts.close
            )
        } catch let error as WebSocketError {
            channel.close(promise: nil)
            if let reason = refusal.withLockedValue({ $0 }) { throw .tls(reason: reason) }
            throw error
        } catch {
            channel.close(promise: nil)
            throw .connectionLost(reason: "\(error)")
        }
    }

    private struct Setup: Sendable {
        var sequence: WebSocketInboundStream
        var handshake: EventLoopFuture<ClientHandshake.Result>
        var close: EventLoopFuture<WebSocketCloseFrame>
    }

    private static func makeHandler(
        channel: any Channel,
        handshake: ClientHandshake,
        configuration: WebSocketClientConfiguration,
        setup: EventLoopPromise<Setup>
    ) -> ClientChannelHandler {
        let parts = ClientChannelHandler.make(eventLoop: channel.eventLoop, handshake: handshake, configuration: configuration)
        setup.succeed(Setup(sequence: parts.sequence, handshake: parts.handshake, close: parts.close))
        return parts.handler
    }
}

extension ClientChannelHandler {
    /// A handler with its message stream and the futures of its handshake and of its end.
    static func make(
        eventLoop: any EventLoop, handshake: ClientHandshake, configuration: WebSocketClientConfiguration
    ) -> (
        handler: ClientChannelHandler,
        sequence: WebSocketInboundStream,
        handshake: EventLoopFuture<ClientHandshake.Result>,
        close: EventLoopFuture<WebSocketCloseFrame>
    ) {
        let delegate = InboundDelegate(eventLoop: eventLoop)
        let backlog = InboundBacklog(
            high: configuration.inboundBufferMessages, highBytes: configuration.inboundBufferBytes, delegate: delegate)
        let new = InboundProducer.makeSequence(
            elementType: InboundBatch.self,
            backPressureStrategy: InboundBacklog.NoLimit(),
            finishOnDeinit: true,
            delegate: delegate
        )
        let handshakePromise = eventLoop.makePromise(of: ClientHandshake.Result.self)
        let closePromise = eventLoop.makePromise(of: WebSocketCloseFrame.self)
        let handler = ClientChannelHandler(
            handshake: handshake,
            configuration: configuration,
            handshakePromise: handshakePromise,
            closePromise: closePromise,
            source: new.source,
            backlog: backlog
        )
        delegate.handler = handler
        let messages = WebSocketInboundStream(base: new.sequence, backlog: backlog)
        return (handler, messages, handshakePromise.futureResult, closePromise.futureResult)
    }
}

/// One TLS context and one certificate check per CA file, shared by every connection: building them
/// loads the system trust store, which costs time and memory that a thousand tenant connections
/// should not pay a thousand times. The CA file is read once for both.
final class TLSContexts: Sendable {
    struct Entry: Sendable {
        let context: NIOSSLContext
        let verification: CertificateVerification
    }

    static let shared = TLSContexts()
    private let cache = NIOLockedValueBox<[String: Entry]>([:])

    func context(caFile: String?) throws(WebSocketError) -> Entry {
        let key = caFile ?? ""
        if let existing = cache.withLockedValue({ $0[key] }) { return existing }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        var roots = CertificateStore.systemTrustRoots
        if let caFile {
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !certificates.isEmpty else { throw WebSocketError.tls(reason: "no certificate in CA file \(caFile)") }
                roots.append(contentsOf: try certificates.map { try Certificate(derEncoded: $0.toDERBytes()) })
                configuration.additionalTrustRoots = [.certificates(certificates)]
            } catch let error as WebSocketError {
                throw error
            } catch {
                throw .tls(reason: "cannot read CA file \(caFile): \(error)")
            }
        }
        do {
            let entry = Entry(
                context: try NIOSSLContext(configuration: configuration), verification: CertificateVerification(roots: roots))
            cache.withLockedValue { $0[key] = entry }
            return entry
        } catch {
            throw .tls(reason: "cannot set up TLS: \(error)")
        }
    }
}
