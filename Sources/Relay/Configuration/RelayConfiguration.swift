import Foundation
import Xelion

/// callrelay's configuration file, validated: every value here is usable as it is.
public struct RelayConfiguration: Sendable {
    /// Where the journal, gaps and dead letters are kept.
    public var dataDirectory: URL
    public var tenants: [Tenant]
    public var journal: JournalOptions
    public var logStream: LogStreamSettings
    /// What works but should not be so (a password or signed events sent in clear): `check` prints
    /// these and `run` logs them at start.
    public var warnings: [ConfigurationProblem]

    public init(
        dataDirectory: URL, tenants: [Tenant], journal: JournalOptions = .init(), logStream: LogStreamSettings = .init(),
        warnings: [ConfigurationProblem] = []
    ) {
        self.dataDirectory = dataDirectory
        self.tenants = tenants
        self.journal = journal
        self.logStream = logStream
        self.warnings = warnings
    }

    public struct Tenant: Sendable {
        public var name: String
        /// Where the tenant's events come from, with that provider's settings.
        public var provider: ProviderSettings
        /// Keep the provider's original payload in each event's `data.raw`.
        public var includeRaw: Bool
        /// The CRM endpoints that receive this tenant's events.
        public var webhooks: [WebhookEndpoint]

        public init(name: String, provider: ProviderSettings, includeRaw: Bool = false, webhooks: [WebhookEndpoint] = []) {
            self.name = name
            self.provider = provider
            self.includeRaw = includeRaw
            self.webhooks = webhooks
        }

        /// A tenant on a Xelion PBX.
        public init(name: String, xelion: XelionSettings, includeRaw: Bool = false, webhooks: [WebhookEndpoint] = []) {
            self.init(name: name, provider: .xelion(xelion), includeRaw: includeRaw, webhooks: webhooks)
        }

        /// The tenant's Xelion settings, when its events come from a Xelion PBX.
        public var xelion: XelionSettings? {
            switch provider {
            case .xelion(let settings): settings
            }
        }
    }

    /// The provider a tenant's events come from, and what the relay needs to reach it or be reached.
    public enum ProviderSettings: Sendable {
        /// A Xelion PBX, whose admin socket the relay holds.
        case xelion(XelionSettings)
    }

    /// One CRM endpoint: where to POST, how to sign, which events.
    public struct WebhookEndpoint: Sendable {
        public var url: String
        /// `whsec_...`; two while rotating.
        public var secrets: [String]
        /// Extra request headers (an `Authorization`, say); never logged.
        public var headers: [(name: String, value: String)]
        /// Event types to send; empty sends all.
        public var types: [String]
        public var caFile: String?
        public var timeout: Duration
        public var schedule: RetrySchedule
        /// Calls delivered at once (each call's events go one after another), and so the most
        /// connections open to the endpoint.
        public var concurrency: Int

        /// Enough for a thousand events a second to a CRM that answers in 10 ms, with calls' events
        /// arriving in bursts; few enough not to look like an attack.
        public static let defaultConcurrency = 16
        /// No answer within this is a failed attempt.
        public static let defaultTimeout = Duration.seconds(15)

        public init(
            url: String, secrets: [String], headers: [(name: String, value: String)] = [], types: [String] = [],
            caFile: String? = nil, timeout: Duration = defaultTimeout, schedule: RetrySchedule = .init(),
            concurrency: Int = defaultConcurrency
        ) {
            self.concurrency = concurrency
            self.url = url
            self.secrets = secrets
            self.headers = headers
            self.types = types
            self.caFile = caFile
            self.timeout = timeout
            self.schedule = schedule
        }
    }

    /// Where every committed event is written for people and log shippers.
    public struct LogStreamSettings: Sendable, Equatable {
        /// "-" for standard output, or a file.
        public var path: String
        public var format: LogStreamSink.Format
        /// A file is rotated when it would grow past this many bytes; 0 never rotates.
        public var maxBytes: Int
        /// Rotated files kept.
        public var keep: Int

        public init(path: String = "-", format: LogStreamSink.Format = .json, maxBytes: Int = 100 << 20, keep: Int = 5) {
            self.path = path
            self.format = format
            self.maxBytes = maxBytes
            self.keep = keep
        }
    }

    public struct XelionSettings: Sendable {
        public var credentials: XelionCredentials
        /// PEM file of CA certificates added to the system's trust roots for this PBX.
        public var caFile: String?
        public var events: [String]
        /// The zone of event dates the PBX sends without one (UTC unless configured).
        public var timeZone: TimeZone

        public init(
            credentials: XelionCredentials, caFile: String? = nil,
            events: [String] = XelionCallEventType.allCases.map(\.rawValue),
            timeZone: TimeZone = TimeZone(secondsFromGMT: 0) ?? .gmt
        ) {
            self.credentials = credentials
            self.caFile = caFile
            self.events = events
            self.timeZone = timeZone
        }
    }
}
