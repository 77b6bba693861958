import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOSSL
import WSClient
import WSCompression
import WebSocket

/// What holding many idle connections costs.
struct IdleResult: Codable {
    var implementation: String
    var connections: Int
    var secondsToConnectAll: Double
    var residentBeforeKiB: Int
    var residentAfterKiB: Int
    var kibPerConnection: Double { Double(residentAfterKiB - residentBeforeKiB) / Double(connections) }
}

/// Resident memory now (not the peak), from /proc/self/statm.
func residentKiB() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}

/// Opens `connections` sockets that each receive one message and then sit idle, and measures the
/// resident memory they hold beyond the process's own after one warm-up connection.
enum IdleConnections {
    static func hold(
        implementation: String, port: Int, connections: Int, compressed: Bool, caFile: String?
    ) async throws -> IdleResult {
        let url = "\(caFile == nil ? "ws://127.0.0.1" : "wss://localhost"):\(port)/"
        let received = NIOLockedValueBox(0)
        let open: @Sendable () async throws -> Void
        // Holds callrelay's connections open until the measurement is taken.
        let heldBox = NIOLockedValueBox<[WebSocketConnection]>([])
        if implementation == "callrelay" {
            let configuration = WebSocketClientConfiguration(
                compression: compressed
                    ? PerMessageDeflateOptions(serverNoContextTakeover: true, clientNoContextTakeover: true) : nil,
                keepalive: nil,
                caFile: caFile
            )
            open = {
                let socket = try await WebSocket.WebSocketClient.connect(to: url, configuration: configuration)
                var iterator = socket.messages.makeAsyncIterator()
                _ = try await iterator.next()
                received.withLockedValue { $0 += 1 }
                heldBox.withLockedValue { $0.append(socket) }
            }
        } else {
            let tls: TLSConfiguration? = caFile.map {
                var configuration = TLSConfiguration.makeClientConfiguration()
                configuration.additionalTrustRoots = [.file($0)]
                return configuration
            }
            let configuration = WSClient.WebSocketClientConfiguration(
                extensions: compressed ? [.perMessageDeflate(noContextTakeover: true)] : [],
                validateUTF8: true
            )
            open = {
                // swift-websocket keeps a connection for as long as its handler runs: park it there.
                let started = AsyncStream<Void>.makeStream()
                let client = WSClient.WebSocketClient(
                    url: url, configuration: configuration, tlsConfiguration: tls, logger: Logger(label: "idle")
                ) {
                    inbound, _, _ in
                    var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                    _ = try await iterator.next()
                    received.withLockedValue { $0 += 1 }
                    started.continuation.yield()
                    try await Task.sleep(for: .seconds(3600))
                }
                Task { _ = try? await client.run() }
                var wait = started.stream.makeAsyncIterator()
                _ = await wait.next()
            }
        }
        try await open()  // warm-up: TLS context, trust store, event loops, code pages
        let before = residentKiB()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            var launched = 0
            while launched < connections {
                // At most 64 handshakes in flight, as a relay starting many tenants would pace them.
                if launched >= 64 { try await group.next() }
                group.addTask { try await open() }
                launched += 1
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        try await Task.sleep(for: .milliseconds(500))  // let the last reads finish and idle state settle
        let after = residentKiB()
        withExtendedLifetime(heldBox) {}
        return IdleResult(
            implementation: implementation,
            connections: connections,
            secondsToConnectAll: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            residentBeforeKiB: before,
            residentAfterKiB: after
        )
    }
}
