import Foundation
import WebSocket

/// callrelay's own client: `WebSocketClient.connect`, then iterate `messages`.
enum CallRelayReceiver {
    static func run(port: Int, messages: Int, compressed: Bool, caFile: String?) async throws -> ReceiveResult {
        let configuration = WebSocketClientConfiguration(
            compression: compressed ? PerMessageDeflateOptions(serverNoContextTakeover: true) : nil,
            limits: .init(maxFrameSize: 1 << 20, maxMessageSize: 1 << 20),
            keepalive: nil,
            caFile: caFile
        )
        let scheme = caFile == nil ? "ws://127.0.0.1" : "wss://localhost"
        let socket = try await WebSocketClient.connect(to: "\(scheme):\(port)/", configuration: configuration)
        var meter = ReceiveMeter(target: messages)
        for try await message in socket.messages {
            guard case .text(let text) = message else { continue }
            if var result = meter.received(bytes: text.utf8.count) {
                result.implementation = "callrelay"
                return result
            }
        }
        throw BenchmarkError("the stream ended early")
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
