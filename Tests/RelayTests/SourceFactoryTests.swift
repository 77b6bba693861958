import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Testing
import Xelion

@testable import Relay

@Suite("Sources made from each tenant's provider settings")
struct SourceFactoryTests {
    func tenant(_ name: String, caFile: String?) -> RelayConfiguration.Tenant {
        let credentials = XelionCredentials(
            baseURL: "https://pbx.example.com/api/v1/\(name)", userName: "admin", password: "pw", userSpace: "callrelay-\(name)")
        return RelayConfiguration.Tenant(
            name: name, xelion: .init(credentials: credentials, caFile: caFile, events: ["callHungUpEvent"]))
    }

    @Test("the PBX's REST client lets go of an idle login connection within seconds")
    func restClientSettings() {
        #expect(XelionSourceFactory.clientConfiguration(caFile: nil).connectionPool.idleTimeout <= .seconds(5))
    }

    @Test("a Xelion tenant gets a socket source with its own settings; tenants naming one CA file share its HTTP client")
    func xelionSources() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        defer { try? FileManager.default.removeItem(at: directory) }
        var factory = SourceFactory(
            context: SourceContext(
                dataDirectory: directory, gaps: GapLog(dataDirectory: directory),
                deadLetters: DeadLetterFile(dataDirectory: directory), gate: nil, logger: Logger(label: "test"),
                submit: { _ in }))
        let sources = [
            factory.makeSource(for: tenant("acme", caFile: "/etc/callrelay/pbx-ca.pem")),
            factory.makeSource(for: tenant("beta", caFile: "/etc/callrelay/pbx-ca.pem")),
            factory.makeSource(for: tenant("gamma", caFile: nil)),
        ]
        #expect(sources.map(\.tenant) == ["acme", "beta", "gamma"])
        let xelion = try #require(sources[0] as? XelionTenantSource)
        #expect(xelion.configuration.events == ["callHungUpEvent"])
        #expect(xelion.configuration.credentials.userSpace == "callrelay-acme")
        #expect(sources.allSatisfy { $0.status.state == .starting })
        #expect(factory.httpClients.count == 2)
        for client in factory.httpClients { try await client.shutdown() }
    }
}
