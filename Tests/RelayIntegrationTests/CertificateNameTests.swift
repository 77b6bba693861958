import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import TestSupport
import Testing
import WebSocket
import X509
import XelionSimulator

/// A TLS server on loopback that records whether its handshakes completed and how they failed.
final class RecordingTLSServer: Sendable {
    let port: Int
    private let channel: any Channel
    private let box: NIOLockedValueBox<(completed: Int, failures: [String])>

    var completedHandshakes: Int { box.withLockedValue { $0.completed } }
    var failures: [String] { box.withLockedValue { $0.failures } }

    init(certificates: SimulatorCertificates) async throws {
        let box = NIOLockedValueBox<(completed: Int, failures: [String])>((0, []))
        let context = certificates.context
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(Recorder(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.box = box
    }

    func stop() async { try? await channel.close() }

    private final class Recorder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let box: NIOLockedValueBox<(completed: Int, failures: [String])>
        init(box: NIOLockedValueBox<(completed: Int, failures: [String])>) { self.box = box }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { box.withLockedValue { $0.completed += 1 } }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            box.withLockedValue { $0.failures.append("\(error)") }
            context.close(promise: nil)
        }
    }
}

@Suite("TLS: the server's name is checked inside the handshake", .timeLimit(.minutes(1)))
struct CertificateNameTests {
    func caFile(_ certificates: SimulatorCertificates) throws -> String {
        let file = TestEnvironment.temporaryDirectory().appendingPathComponent("ca.pem")
        try certificates.caPEM.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Connects to `host` on the server and returns the reason of the client's TLS error (the empty
    /// text, with an issue recorded, for any other outcome); the server must have seen its handshake
    /// fail, never complete.
    func refused(
        host: String, names: [String], addresses: [[UInt8]], usages: [ExtendedKeyUsage.Usage] = [.serverAuth]
    ) async throws -> String {
        let certificates = try SimulatorCertificates(names: names, addresses: addresses, usages: usages)
        let server = try await RecordingTLSServer(certificates: certificates)
        defer { Task { await server.stop() } }
        var configuration = WebSocketClientConfiguration()
        configuration.caFile = try caFile(certificates)
        var failure: WebSocketError?
        do {
            let socket = try await WebSocketClient.connect(to: "wss://\(host):\(server.port)/", configuration: configuration)
            _ = try? await socket.close()
        } catch {
            failure = error
        }
        try await eventually("the server saw the handshake fail") { !server.failures.isEmpty }
        #expect(server.completedHandshakes == 0, "the handshake never completed on the server's side")
        #expect(
            server.failures.contains { $0.localizedCaseInsensitiveContains("alert") || $0.contains("CERTIFICATE") },
            "\(server.failures)")
        guard let failure, failure.code == .tls, let reason = failure.reason else {
            Issue.record("not refused as TLS: \(String(describing: failure))")
            return ""
        }
        return reason
    }

    @Test("a certificate for another host name fails the handshake with an alert")
    func otherName() async throws {
        let reason = try await refused(host: "localhost", names: ["pbx.other.example"], addresses: [])
        #expect(reason.contains("not valid for localhost"), "\(reason)")
    }

    @Test("a certificate for another IP address fails the handshake with an alert")
    func otherAddress() async throws {
        let reason = try await refused(host: "127.0.0.1", names: ["localhost"], addresses: [[10, 9, 8, 7]])
        #expect(reason.contains("not valid for 127.0.0.1"), "\(reason)")
    }

    @Test("a certificate for the right name whose extended key usage allows only TLS clients is refused")
    func clientOnlyUsage() async throws {
        let reason = try await refused(host: "localhost", names: ["localhost"], addresses: [], usages: [.clientAuth])
        #expect(reason.contains("does not allow a TLS server"), "\(reason)")
    }

    @Test("a certificate for the name and the address passes, by name and by address")
    func matching() async throws {
        let certificates = try SimulatorCertificates()
        let server = try await RecordingTLSServer(certificates: certificates)
        defer { Task { await server.stop() } }
        var configuration = WebSocketClientConfiguration(handshakeTimeout: .seconds(2))
        configuration.caFile = try caFile(certificates)
        for host in ["localhost", "127.0.0.1"] {
            // The recording server speaks no WebSocket: the TLS handshake completes, the upgrade times out.
            await #expect(throws: WebSocketError.handshakeTimeout) {
                _ = try await WebSocketClient.connect(to: "wss://\(host):\(server.port)/", configuration: configuration)
            }
        }
        #expect(server.completedHandshakes == 2)
    }
}
