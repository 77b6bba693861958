import AsyncHTTPClient

/// Makes each tenant's source from its provider's settings. The one place that knows every provider:
/// a new one is a case of ``RelayConfiguration/ProviderSettings`` and a factory of its own here.
struct SourceFactory {
    let context: SourceContext
    private var xelion = XelionSourceFactory()

    init(context: SourceContext) {
        self.context = context
    }

    mutating func makeSource(for tenant: RelayConfiguration.Tenant) -> any CallEventSource {
        switch tenant.provider {
        case .xelion(let settings):
            xelion.makeSource(tenant: tenant.name, settings: settings, includeRaw: tenant.includeRaw, context: context)
        }
    }

    /// The HTTP clients the sources use, to be shut down after them.
    var httpClients: [HTTPClient] { xelion.httpClients }
}
