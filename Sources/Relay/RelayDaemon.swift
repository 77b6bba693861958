import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals
import Xelion

/// The running daemon: one HTTP client per PBX trust setting, one source per tenant, all under a
/// service group that shuts down gracefully on SIGINT and SIGTERM.
public struct RelayDaemon: Sendable {
    public let sources: [XelionTenantSource]
    let clients: [HTTPClient]
    let logger: Logger
    private let group: ServiceGroup

    /// - Parameter connectLimit: how many tenants may be connecting at the same moment.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        connectLimit: Int = 32,
        emit: @escaping @Sendable (TenantEvent) async -> Void
    ) throws {
        let gate = ConnectGate(limit: connectLimit)
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let gaps = GapLog(dataDirectory: configuration.dataDirectory)
        let deadLetters = DeadLetterFile(dataDirectory: configuration.dataDirectory)
        var clientsByCA: [String: HTTPClient] = [:]
        var sources: [XelionTenantSource] = []
        for tenant in configuration.tenants {
            let key = tenant.xelion.caFile ?? ""
            let client: HTTPClient
            if let existing = clientsByCA[key] {
                client = existing
            } else {
                var tls = TLSConfiguration.makeClientConfiguration()
                if let caFile = tenant.xelion.caFile { tls.additionalTrustRoots = [.file(caFile)] }
                var settings = HTTPClient.Configuration(tlsConfiguration: tls)
                settings.timeout = .init(connect: .seconds(10), read: .seconds(30))
                client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: settings)
                clientsByCA[key] = client
            }
            var tenantLogger = logger
            tenantLogger[metadataKey: "tenant"] = "\(tenant.name)"
            let session = XelionSession(credentials: tenant.xelion.credentials, http: client, logger: tenantLogger)
            let sourceConfiguration = TenantSourceConfiguration(
                tenant: tenant.name,
                credentials: tenant.xelion.credentials,
                events: tenant.xelion.events,
                caFile: tenant.xelion.caFile
            )
            sources.append(
                XelionTenantSource(
                    configuration: sourceConfiguration,
                    session: session,
                    gaps: gaps,
                    deadLetters: deadLetters,
                    logger: logger,
                    gate: gate,
                    emit: emit
                )
            )
        }
        self.sources = sources
        self.clients = Array(clientsByCA.values)
        self.logger = logger
        let services: [any Service] = sources.map(TenantService.init)
        group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
    }

    /// Shuts down as SIGTERM would: every socket closed with 1001, every session logged out.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Runs every tenant until SIGINT or SIGTERM, then shuts down gracefully.
    public func run() async throws {
        logger.info("relay starting", metadata: ["tenants": "\(sources.count)"])
        try await group.run()
        for client in clients { try? await client.shutdown() }
        logger.info("relay stopped")
    }
}

/// A tenant source as a service: cancelled on graceful shutdown, which closes its socket with 1001
/// and logs it out.
struct TenantService: Service {
    let source: XelionTenantSource

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await source.run()
        }
    }
}
