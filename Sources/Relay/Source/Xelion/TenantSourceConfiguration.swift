import Foundation
import WebSocket
import Xelion

/// How one tenant's source connects and how patiently it retries.
public struct TenantSourceConfiguration: Sendable {
    public var tenant: String
    public var credentials: XelionCredentials
    /// Notification types subscribed after every connect.
    public var events: [String]
    public var socket: WebSocketClientConfiguration
    /// How long to wait before each attempt: quickly after an established connection dropped,
    /// backing off when attempts fail.
    public var reconnect: ReconnectPolicy
    /// How often `{"messageType":"test"}` is sent, and how long its echo may take.
    public var livenessInterval: Duration
    public var livenessTimeout: Duration

    /// - Parameters:
    ///   - backoff: the waits between attempts that fail before a subscription is in place.
    ///   - operatorRetry: the wait after an error an operator must fix (wrong password, disabled
    ///     account): long, so the PBX is never hammered into locking the account.
    public init(
        tenant: String,
        credentials: XelionCredentials,
        events: [String] = XelionCallEventType.allCases.map(\.rawValue),
        caFile: String? = nil,
        backoff: Backoff = Backoff(),
        operatorRetry: Duration = .seconds(300),
        livenessInterval: Duration = .seconds(30),
        livenessTimeout: Duration = .seconds(10)
    ) {
        self.tenant = tenant
        self.credentials = credentials
        self.events = events
        // Lean on memory: the PBX resets its compressor per message, so an idle tenant keeps no zlib
        // state; our own messages are tiny and go out uncompressed.
        self.socket = WebSocketClientConfiguration(
            compression: PerMessageDeflateOptions(serverNoContextTakeover: true, clientNoContextTakeover: true),
            caFile: caFile,
            inboundBufferMessages: 256,
            // A call event is about 1 KiB: 256 of them, or a few large messages, per tenant at most.
            inboundBufferBytes: 1 << 20
        )
        self.reconnect = ReconnectPolicy(backoff: backoff, operatorRetry: operatorRetry)
        self.livenessInterval = livenessInterval
        self.livenessTimeout = livenessTimeout
    }
}
