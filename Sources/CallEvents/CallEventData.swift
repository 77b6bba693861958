import Foundation
import Xelion

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

/// One party of a call: a customer's number, a user of the PBX, a queue, an IVR.
public struct CallParty: Sendable, Equatable, Codable {
    /// The number exactly as the provider sent it.
    public var number: String?
    /// The number in E.164 (`+31201234567`) where it can be derived without guessing.
    public var numberE164: String?
    /// A display name (an agent's or a contact's).
    public var name: String?
    /// `user`, `contact`, `queue`, `ivr`, `voicemail`, ... where the provider says.
    public var kind: String?
    /// The PBX user, by the provider's identifier.
    public var user: String?
    /// The provider's reference to the user's addressable record.
    public var userRef: String?
    /// The provider's reference to the party's contact or addressable record.
    public var contactRef: String?
    /// The contact's identifier in an external address book the PBX syncs with, and that book.
    public var contactSyncId: String?
    public var contactSyncSource: String?
    /// The provider's id of this party's flow through the call (Xelion's flow ids follow a party through
    /// transfers).
    public var flowId: String?
    /// The provider's call-log record for this party.
    public var callLogRef: String?
    /// The line or trunk the call used on this side.
    public var lineRef: String?

    public init(number: String? = nil, name: String? = nil, kind: String? = nil, user: String? = nil) {
        self.number = number
        self.numberE164 = number.flatMap(PhoneNumber.e164)
        self.name = name
        self.kind = kind
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case number
        case numberE164 = "number_e164"
        case name, kind, user
        case userRef = "user_ref"
        case contactRef = "contact_ref"
        case contactSyncId = "contact_sync_id"
        case contactSyncSource = "contact_sync_source"
        case flowId = "flow_id"
        case callLogRef = "call_log_ref"
        case lineRef = "line_ref"
    }
}

/// A key pressed during the call.
public struct DTMFInput: Sendable, Equatable, Codable {
    public var digits: String
    public var at: Date?
    public var label: String?

    public init(digits: String, at: Date? = nil, label: String? = nil) {
        self.digits = digits
        self.at = at
        self.label = label
    }
}

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

/// A hand-over: `party` was talking to `from`, and now talks to `to`.
public struct CallTransfer: Sendable, Equatable, Codable {
    /// The party that was handed over (usually the customer).
    public var party: CallParty
    /// Who handed the party over.
    public var from: CallParty
    /// Who received the party.
    public var to: CallParty
    /// The call the party was in before the hand-over.
    public var previousCallId: String

    public init(party: CallParty, from: CallParty, to: CallParty, previousCallId: String) {
        self.party = party
        self.from = from
        self.to = to
        self.previousCallId = previousCallId
    }

    enum CodingKeys: String, CodingKey {
        case party, from, to
        case previousCallId = "previous_call_id"
    }
}
