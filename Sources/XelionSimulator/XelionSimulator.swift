import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import WebSocket

/// A Xelion-compatible PBX in Swift, for the demo, benchmarks and unit tests: the REST session
/// endpoints (login with the 10005 rule, renew, logout, single-use socket URLs) and the admin socket,
/// served with callrelay's own WebSocket layer in the server role, over TLS with a CA made at start.
/// Integration tests meet an independent implementation instead, the Python test peer.
public final class XelionSimulator: Sendable {
    public struct Configuration: Sendable {
        /// `tenant:user:password` accounts.
        public var users: [(tenant: String, user: String, password: String)] = [("acme", "admin", "secret")]
        public var tls = true
        public var restPort = 0
        public var socketPort = 0
        public var tokenLifetime: TimeInterval = 3600
        /// The kinds of the first calls played, before the random mix takes over: the demo opens with
        /// one of each.
        public var openingCalls: [CallFlows.Kind] = []
        public init() {}
    }

    /// `https://localhost:PORT/api/v1/` (the tenant follows).
    public let restBase: String
    /// The PEM of the CA that signed the server certificate; nil without TLS.
    public let caPEM: String?
    private let state: NIOLockedValueBox<SimulatorState>
    private let channels: [any Channel]

    private init(restBase: String, caPEM: String?, state: NIOLockedValueBox<SimulatorState>, channels: [any Channel]) {
        self.restBase = restBase
        self.caPEM = caPEM
        self.state = state
        self.channels = channels
    }

    public static func start(
        _ configuration: Configuration = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws
        -> XelionSimulator
    {
        let certificates = configuration.tls ? try SimulatorCertificates() : nil
        let state = NIOLockedValueBox(SimulatorState(configuration: configuration))
        let tls = certificates?.context
        let socketDelegate = SocketDelegate(state: state)
        let socketChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(WebSocketServerHandler(delegate: socketDelegate))
                }
            }
            .bind(host: "127.0.0.1", port: configuration.socketPort).get()
        let socketPort = socketChannel.localAddress?.port ?? 0
        let scheme = configuration.tls ? "wss" : "ws"
        state.withLockedValue { $0.socketBase = "\(scheme)://localhost:\(socketPort)/websocket/" }
        let restChannel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RESTHandler(state: state))
                }
            }
            .bind(host: "127.0.0.1", port: configuration.restPort).get()
        let restPort = restChannel.localAddress?.port ?? 0
        return XelionSimulator(
            restBase: "\(configuration.tls ? "https" : "http")://localhost:\(restPort)/api/v1/",
            caPEM: certificates?.caPEM,
            state: state,
            channels: [socketChannel, restChannel]
        )
    }

    /// Connections subscribed to all five call events.
    public var fullySubscribedConnections: Int {
        state.withLockedValue { $0.connections.values.filter { $0.subscribed.isSuperset(of: SimulatorState.callEvents) }.count }
    }

    /// Plays `calls` calls to every subscribed connection, `rate` calls per second (0: at once).
    /// Returns how many events were sent (each counted once, however many connections got it).
    @discardableResult
    public func play(calls: Int, rate: Double = 0) async -> Int {
        var sent = 0
        for _ in 0..<calls {
            let events = state.withLockedValue { $0.flows.nextCall() }
            for event in events where send(event) > 0 { sent += 1 }
            if rate > 0 { try? await Task.sleep(for: .milliseconds(Int(1000 / rate))) }
        }
        return sent
    }

    /// Sends one event now to every connection subscribed to its type (only the `tenant`'s when one
    /// is named); returns how many got it. For callers that pace the events themselves (the delivery
    /// benchmark, which keeps its other tenants idle).
    @discardableResult
    public func send(_ event: SimulatedEvent, tenant: String? = nil) -> Int {
        let text = Self.encode(event)
        let targets = state.withLockedValue { state in
            guard let tenant else {
                return state.connections.filter { $0.value.subscribed.contains(event.type) }.map(\.key)
            }
            return (state.tenantConnections[tenant] ?? []).filter {
                state.connections[$0]?.subscribed.contains(event.type) == true
            }
        }
        for connection in targets { connection.send(.text(text)) }
        return targets.count
    }

    /// Ends every socket (cleanly, or as a TCP reset), as a PBX restart would.
    public func dropConnections(reset: Bool = false) {
        let all = state.withLockedValue { Array($0.connections.keys) }
        for connection in all {
            if reset { connection.abort() } else { connection.close(code: .goingAway, reason: "going away") }
        }
    }

    public func stop() async {
        for channel in channels { try? await channel.close() }
    }

    static func encode(_ event: SimulatedEvent) -> String {
        struct Envelope: Encodable {
            var notificationType: String
            var notification: [String: String]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Envelope(notificationType: event.type, notification: event.notification))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Everything the simulator knows, behind one lock (REST and sockets run on several event loops).
struct SimulatorState: Sendable {
    static let callEvents: Set<String> = [
        "newCallEvent", "callConnectedEvent", "callHungUpEvent", "missedCallEvent", "channelHungUpEvent",
    ]

    struct Session: Sendable {
        var tenant: String
        var user: String
        var space: String
        var validUntil: Date
        var renewal: String
    }

    struct Subscriber: Sendable {
        var tenant: String
        var subscribed: Set<String> = []
    }

    var passwords: [String: String] = [:]  // "tenant/user" -> password
    var sessions: [String: Session] = [:]
    var spaces: [String: String] = [:]  // "tenant/user/space" -> token
    var socketKeys: [String: String] = [:]  // key -> tenant
    var connections: [WebSocketServerConnection: Subscriber] = [:]
    /// The same connections by tenant, so that sending to one of many tenants does not visit them all.
    var tenantConnections: [String: Set<WebSocketServerConnection>] = [:]
    var socketBase = ""
    var tokenLifetime: TimeInterval
    var flows = CallFlows()

    init(configuration: XelionSimulator.Configuration) {
        for account in configuration.users { passwords["\(account.tenant)/\(account.user)"] = account.password }
        tokenLifetime = configuration.tokenLifetime
        flows.opening = configuration.openingCalls
    }

    static func token() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<18).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
    }
}
