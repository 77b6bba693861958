import AsyncHTTPClient
import Logging
import NIOCore
import NIOSSL
import Xelion

/// Makes Xelion tenants' sources: a REST session and the socket source around it, with one HTTP
/// client per CA file shared by every tenant that names it.
struct XelionSourceFactory {
    private var clientsByCA: [String: HTTPClient] = [:]

    var httpClients: [HTTPClient] { Array(clientsByCA.values) }

    mutating func makeSource(
        tenant: String, settings: RelayConfiguration.XelionSettings, includeRaw: Bool, context: SourceContext
    ) -> XelionTenantSource {
        let key = settings.caFile ?? ""
        let client: HTTPClient
        if let existing = clientsByCA[key] {
            client = existing
        } else {
            client = HTTPClient(
                eventLoopGroupProvider: .singleton, configuration: Self.clientConfiguration(caFile: settings.caFile))
            clientsByCA[key] = client
        }
        var tenantLogger = context.logger
        tenantLogger[metadataKey: "tenant"] = "\(tenant)"
        let session = XelionSession(
            credentials: settings.credentials, http: client, logger: tenantLogger,
            tokenStore: SessionTokenFile(dataDirectory: context.dataDirectory, tenant: tenant))
        let configuration = TenantSourceConfiguration(
            tenant: tenant, credentials: settings.credentials, events: settings.events, caFile: settings.caFile)
        let mapping = XelionMapping(tenant: tenant, timeZone: settings.timeZone, includeRaw: includeRaw)
        let submit = context.submit
        return XelionTenantSource(
            configuration: configuration,
            session: session,
            gaps: context.gaps,
            deadLetters: context.deadLetters,
            logger: context.logger,
            gate: context.gate,
            signsOfLife: context.signsOfLife,
            emit: { event in await submit(mapping.normalize(event.event, receivedAt: event.receivedAt)) }
        )
    }

    /// The HTTP client of the PBX's REST session. The login carries the password: it never follows a
    /// redirect anywhere.
    static func clientConfiguration(caFile: String?) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        var settings = HTTPClient.Configuration(tlsConfiguration: tls)
        settings.timeout = .init(connect: .seconds(10), read: .seconds(30))
        settings.redirectConfiguration = .disallow
        // A tenant logs in once a day or after a drop: a pooled connection kept for a minute after it
        // would hold a TLS connection per PBX host for nothing, thousands with thousands of tenants.
        settings.connectionPool.idleTimeout = .seconds(5)
        return settings
    }
}
