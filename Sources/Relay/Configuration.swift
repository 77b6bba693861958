import Foundation
import Xelion

/// callrelay's configuration file, validated: every value here is usable as it is.
public struct RelayConfiguration: Sendable {
    /// Where gaps, dead letters (and, later, the journal) are kept.
    public var dataDirectory: URL
    public var tenants: [Tenant]

    public init(dataDirectory: URL, tenants: [Tenant]) {
        self.dataDirectory = dataDirectory
        self.tenants = tenants
    }

    public struct Tenant: Sendable {
        public var name: String
        public var xelion: XelionSettings

        public init(name: String, xelion: XelionSettings) {
            self.name = name
            self.xelion = xelion
        }
    }

    public struct XelionSettings: Sendable {
        public var credentials: XelionCredentials
        /// PEM file of CA certificates added to the system's trust roots for this PBX.
        public var caFile: String?
        public var events: [String]

        public init(
            credentials: XelionCredentials, caFile: String? = nil, events: [String] = XelionCallEventType.allCases.map(\.rawValue)
        ) {
            self.credentials = credentials
            self.caFile = caFile
            self.events = events
        }
    }
}

/// One thing wrong with a configuration file: where, which key, and why.
public struct ConfigurationProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// The key's path, as `tenants[0].xelion.password_env`.
    public var key: String
    public var reason: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(key.isEmpty ? "" : "\(key): ")\(reason)"
    }
}

/// Every problem found in a configuration file, not just the first.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigurationProblem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
