import Relay
import Xelion

extension RelayConfiguration.Tenant {
    /// A tenant of the simulator whose REST base is `rest` (`…/api/v1/`), logging in as the
    /// simulator's `admin`, as every benchmark against the simulator configures it.
    static func simulated(
        _ name: String, rest: String, caFile: String, webhooks: [RelayConfiguration.WebhookEndpoint] = []
    ) -> Self {
        let credentials = XelionCredentials(
            baseURL: rest + name + "/", userName: "admin", password: "secret", userSpace: "callrelay-\(name)")
        return .init(name: name, xelion: .init(credentials: credentials, caFile: caFile), webhooks: webhooks)
    }
}
