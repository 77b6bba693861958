import CallRelayCore
import Foundation

/// One leg of a call, for providers that report legs (Callerdesk, Phonon, Tata's call flow).
public struct CallLeg: Sendable, Equatable, Codable {
    public var id: String?
    public var party: CallParty?
    public var startedAt: Date?
    public var answeredAt: Date?
    public var endedAt: Date?
    public var durationSeconds: Double?
    public var hangupCause: String?

    public init(id: String? = nil, party: CallParty? = nil) {
        self.id = id
        self.party = party
    }

    enum CodingKeys: String, CodingKey {
        case id, party
        case startedAt = "started_at"
        case answeredAt = "answered_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case hangupCause = "hangup_cause"
    }
}
