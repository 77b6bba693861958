import Logging
import NIOConcurrencyHelpers
import NIOSSL
import WSClient
import WSCompression

/// hummingbird-project/swift-websocket's `WSClient`, configured to do the same work per message as
/// callrelay: UTF-8 validation on, whole messages (`messages(maxSize:)`) as `String`.
enum SwiftWebSocketReceiver {
    /// The client's TLS settings: the sender's CA trusted, or plain `ws://` without one.
    static func tlsConfiguration(caFile: String?) -> TLSConfiguration? {
        guard let caFile else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.additionalTrustRoots = [.file(caFile)]
        return configuration
    }

    static func run(port: Int, messages: Int, compressed: Bool, caFile: String?) async throws -> ReceiveResult {
        let tls = tlsConfiguration(caFile: caFile)
        let configuration = WebSocketClientConfiguration(
            maxFrameSize: 1 << 20,
            extensions: compressed ? [.perMessageDeflate(serverNoContextTakeover: true, maxDecompressedFrameSize: 1 << 20)] : [],
            // The sender never answers a close: do not wait long for it once the count is reached.
            closeTimeout: .milliseconds(100),
            validateUTF8: true
        )
        let outcome = NIOLockedValueBox<ReceiveResult?>(nil)
        let scheme = caFile == nil ? "ws://127.0.0.1" : "wss://localhost"
        let client = WebSocketClient(
            url: "\(scheme):\(port)/",
            configuration: configuration,
            tlsConfiguration: tls,
            logger: Logger(label: "swift-websocket")
        ) { inbound, outbound, _ in
            var meter = ReceiveMeter(target: messages)
            for try await message in inbound.messages(maxSize: 1 << 20) {
                guard case .text(let text) = message else { continue }
                if var result = meter.received(bytes: text.utf8.count) {
                    result.implementation = "swift-websocket"
                    outcome.withLockedValue { $0 = result }
                    return
                }
            }
        }
        _ = try? await client.run()
        guard let result = outcome.withLockedValue({ $0 }) else { throw BenchmarkError("the stream ended early") }
        return result
    }
}
