import AsyncHTTPClient
import CallEvents
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import UnixSignals

/// The running daemon: one source per tenant feeding one pipeline (normalize, dedupe, journal,
/// sinks), all under a service group that shuts down gracefully on SIGINT and SIGTERM.
public struct RelayDaemon: Sendable {
    public let sources: [any CallEventSource]
    public let pipeline: EventPipeline
    public let deliverers: [WebhookDeliverer]
    let clients: [HTTPClient]
    let sinks: [any EventSink]
    let logger: Logger
    private let group: ServiceGroup

    /// Opens the journal (refusing an unreadable one) and the log stream, and sets up every tenant.
    ///
    /// - Parameters:
    ///   - connectLimit: how many tenants may be connecting at the same moment.
    ///   - logStream: false leaves the configured log stream out (the demo shows its own).
    ///   - sinks: more places for committed events, after the log stream.
    public init(
        configuration: RelayConfiguration,
        logger: Logger,
        connectLimit: Int = 32,
        logStream: Bool = true,
        sinks extraSinks: [any EventSink] = []
    ) throws {
        let gate = ConnectGate(limit: connectLimit)
        try DataDirectory.create(configuration.dataDirectory)
        var routes: [String: [DeliveryRoute]] = [:]
        for tenant in configuration.tenants {
            routes[tenant.name] = tenant.webhooks.map { DeliveryRoute(tenant: tenant.name, url: $0.url, types: $0.types) }
        }
        let journal = try Journal(
            directory: configuration.dataDirectory, options: configuration.journal, routes: routes, logger: logger)
        Self.warnAboutUnconfiguredEndpoints(journal, routes: routes, logger: logger)
        // A client (and so a connection pool) per endpoint: with a shared one, endpoints on the same
        // host (two tenants of one CRM vendor) would share its connections, and a slow one would
        // hold them all.
        var webhookClients: [HTTPClient] = []
        var deliverers: [WebhookDeliverer] = []
        for tenant in configuration.tenants {
            for endpoint in tenant.webhooks {
                let client = HTTPClient(
                    eventLoopGroupProvider: .singleton, configuration: Self.webhookClientConfiguration(endpoint))
                webhookClients.append(client)
                deliverers.append(
                    try WebhookDeliverer(tenant: tenant.name, endpoint: endpoint, journal: journal, http: client, logger: logger))
            }
        }
        self.deliverers = deliverers
        var sinks = extraSinks + deliverers.map { $0 as any EventSink }
        if logStream {
            let settings = configuration.logStream
            sinks.insert(
                try LogStreamSink(
                    path: settings.path, format: settings.format, maxBytes: settings.maxBytes, keep: settings.keep,
                    logger: logger, position: LogStreamPosition(dataDirectory: configuration.dataDirectory), journal: journal),
                at: 0)
        }
        self.sinks = sinks
        let deadLetters = DeadLetterFile(dataDirectory: configuration.dataDirectory)
        let pipeline = EventPipeline(journal: journal, sinks: sinks, logger: logger, deadLetters: deadLetters)
        self.pipeline = pipeline
        let signsOfLife = SignsOfLife(dataDirectory: configuration.dataDirectory)
        var factory = SourceFactory(
            context: SourceContext(
                dataDirectory: configuration.dataDirectory, gaps: GapLog(dataDirectory: configuration.dataDirectory),
                deadLetters: deadLetters, gate: gate, logger: logger, signsOfLife: signsOfLife,
                submit: { await pipeline.submit($0) }))
        let sources = configuration.tenants.map { factory.makeSource(for: $0) }
        self.sources = sources
        self.clients = factory.httpClients + webhookClients
        self.logger = logger
        // The pipeline first: a service group stops its services in reverse order, so the journal
        // commits the last events after every socket has closed.
        // Deliverers next: they stop after the sources and before the journal's last commit.
        let services: [any Service] =
            [PipelineService(pipeline: pipeline)] + deliverers.map(DelivererService.init) + [
                TenantSourcesService(sources: sources, signsOfLife: signsOfLife, logger: logger)
            ]
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A stop always ends: a graceful one that takes too long becomes cancellation, and a
        // cancellation that hangs ends the process, which a restart carries on from the disk.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(30)
        groupConfiguration.maximumCancellationDuration = .seconds(30)
        group = ServiceGroup(configuration: groupConfiguration)
    }

    /// Rows owed to an endpoint that is no longer configured (renamed, or its tenant renamed) are never
    /// sent: said at every start, with the counts and what to do.
    static func warnAboutUnconfiguredEndpoints(_ journal: Journal, routes: [String: [DeliveryRoute]], logger: Logger) {
        let configured = Set(routes.values.flatMap { $0.map(\.endpoint) })
        do {
            for orphan in try journal.unconfiguredBacklog(configured: configured) {
                logger.warning(
                    "deliveries wait for an endpoint that is no longer configured; move them to a configured one with `callrelay deliveries move` or drop them with `callrelay deliveries drop`",
                    metadata: ["endpoint": "\(orphan.endpoint)", "pending": "\(orphan.pending)", "dead": "\(orphan.dead)"])
            }
        } catch {
            logger.warning("cannot look for deliveries of endpoints no longer configured", metadata: ["error": "\(error)"])
        }
    }

    /// The HTTP client of one CRM endpoint. Redirects are never followed: async-http-client would turn
    /// a POST into a body-less GET on a 301/302/303 (an event recorded as delivered that never was),
    /// and re-send the signed body and the custom headers to whatever host a 307/308 names.
    public static func webhookClientConfiguration(_ endpoint: RelayConfiguration.WebhookEndpoint) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = endpoint.caFile { tls.additionalTrustRoots = [.file(caFile)] }
        var settings = HTTPClient.Configuration(tlsConfiguration: tls)
        settings.timeout = .init(connect: .seconds(10))
        settings.redirectConfiguration = .disallow
        settings.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = endpoint.concurrency
        return settings
    }

    /// Shuts down as SIGTERM would: every socket closed with 1001, every session logged out.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    /// Runs every tenant until SIGINT or SIGTERM, then shuts down gracefully.
    public func run() async throws {
        logger.info("relay starting", metadata: ["tenants": "\(sources.count)"])
        try await group.run()
        for sink in sinks { await sink.finish() }
        for client in clients { try? await client.shutdown() }
        logger.info("relay stopped")
    }
}
