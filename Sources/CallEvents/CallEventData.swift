import CallRelayCore
import Foundation

/// The body of every normalized call event, schema version ``CallEventData/currentSchemaVersion``.
///
/// Fields a provider does not report are absent, never invented. New optional fields may be added
/// within a schema version; renaming or retyping one is a new version. `docs/call-event-schema.md`
/// maps each provider's fields onto these.
public struct CallEventData: Sendable, Equatable, Codable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int = CallEventData.currentSchemaVersion
    public var tenant: String
    /// `xelion`, `hipcall`, `callerdesk`, `tata`, `phonon`.
    public var provider: String
    /// The provider's own name for what happened, such as `callHungUpEvent`.
    public var providerEvent: String
    public var callId: String
    public var direction: CallDirection
    public var caller: CallParty?
    public var callee: CallParty?
    /// When it happened, by the provider's clock.
    public var occurredAt: Date?
    /// When callrelay received it.
    public var receivedAt: Date
    public var startedAt: Date?
    public var answeredAt: Date?
    public var endedAt: Date?
    /// Whole call, in seconds.
    public var durationSeconds: Double?
    /// Talking time only, in seconds.
    public var talkSeconds: Double?
    public var outcome: CallOutcome?
    /// Why a call was missed, in the provider's words (`out_of_business_hours`, `abandoned`, ...).
    public var missedReason: String?
    /// How the call ended, in the provider's words (a SIP/Q.850 cause, `NORMAL_CLEARING`, ...).
    public var hangupCause: String?
    /// The user or agent who answered.
    public var answeredBy: CallParty?
    public var recordingURL: String?
    /// Keys the caller pressed, in order.
    public var dtmf: [DTMFInput]?
    /// The legs of a call, for providers that report them.
    public var legs: [CallLeg]?
    /// Who handed whom to whom; `call.transferred` only.
    public var transfer: CallTransfer?
    /// The provider's original payload, when the tenant has `include_raw: true`.
    public var raw: JSONValue?

    public init(
        tenant: String, provider: String, providerEvent: String, callId: String, direction: CallDirection,
        receivedAt: Date
    ) {
        self.tenant = tenant
        self.provider = provider
        self.providerEvent = providerEvent
        self.callId = callId
        self.direction = direction
        self.receivedAt = receivedAt
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case tenant, provider
        case providerEvent = "provider_event"
        case callId = "call_id"
        case direction, caller, callee
        case occurredAt = "occurred_at"
        case receivedAt = "received_at"
        case startedAt = "started_at"
        case answeredAt = "answered_at"
        case endedAt = "ended_at"
        case durationSeconds = "duration_seconds"
        case talkSeconds = "talk_seconds"
        case outcome
        case missedReason = "missed_reason"
        case hangupCause = "hangup_cause"
        case answeredBy = "answered_by"
        case recordingURL = "recording_url"
        case dtmf, legs, transfer, raw
    }
}

/// Which way a call goes, seen from the tenant's company.
public enum CallDirection: String, Sendable, Codable, CaseIterable {
    case inbound, outbound, `internal`, unknown
}

/// How a call ended up, where the provider says.
public enum CallOutcome: String, Sendable, Codable, CaseIterable {
    case answered, missed, busy, failed, abandoned, voicemail
}
