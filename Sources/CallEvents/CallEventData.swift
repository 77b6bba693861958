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

/// One party of a call: a customer's number, a user of the PBX, a queue, an IVR.
///
/// Its fields are behind one reference, as ``CallEvent``'s are: an event holds up to five parties
/// (caller, callee, who answered, and a transfer's), each twelve strings, and held inline they would
/// make every event's storage too large for the allocator's per-thread cache and every copy of a
/// party twelve retains.
public struct CallParty: Sendable, Equatable, Codable {
    @usableFromInline
    struct Fields: Sendable, Equatable, Codable {
        @usableFromInline var number: String?
        @usableFromInline var numberE164: String?
        @usableFromInline var name: String?
        @usableFromInline var kind: String?
        @usableFromInline var user: String?
        @usableFromInline var userRef: String?
        @usableFromInline var contactRef: String?
        @usableFromInline var contactSyncId: String?
        @usableFromInline var contactSyncSource: String?
        @usableFromInline var flowId: String?
        @usableFromInline var callLogRef: String?
        @usableFromInline var lineRef: String?

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

    @usableFromInline var storage: SharedFields<Fields>

    /// The number exactly as the provider sent it.
    @inlinable
    public var number: String? {
        _read { yield storage.fields.number }
        _modify { yield &storage.fields.number }
    }
    /// The number in E.164 (`+31201234567`) where it can be derived without guessing.
    @inlinable
    public var numberE164: String? {
        _read { yield storage.fields.numberE164 }
        _modify { yield &storage.fields.numberE164 }
    }
    /// A display name (an agent's or a contact's).
    @inlinable
    public var name: String? {
        _read { yield storage.fields.name }
        _modify { yield &storage.fields.name }
    }
    /// `user`, `contact`, `queue`, `ivr`, `voicemail`, ... where the provider says.
    @inlinable
    public var kind: String? {
        _read { yield storage.fields.kind }
        _modify { yield &storage.fields.kind }
    }
    /// The PBX user, by the provider's identifier.
    @inlinable
    public var user: String? {
        _read { yield storage.fields.user }
        _modify { yield &storage.fields.user }
    }
    /// The provider's reference to the user's addressable record.
    @inlinable
    public var userRef: String? {
        _read { yield storage.fields.userRef }
        _modify { yield &storage.fields.userRef }
    }
    /// The provider's reference to the party's contact or addressable record.
    @inlinable
    public var contactRef: String? {
        _read { yield storage.fields.contactRef }
        _modify { yield &storage.fields.contactRef }
    }
    /// The contact's identifier in an external address book the PBX syncs with.
    @inlinable
    public var contactSyncId: String? {
        _read { yield storage.fields.contactSyncId }
        _modify { yield &storage.fields.contactSyncId }
    }
    /// The external address book of `contactSyncId`.
    @inlinable
    public var contactSyncSource: String? {
        _read { yield storage.fields.contactSyncSource }
        _modify { yield &storage.fields.contactSyncSource }
    }
    /// The provider's id of this party's flow through the call (Xelion's flow ids follow a party through
    /// transfers).
    @inlinable
    public var flowId: String? {
        _read { yield storage.fields.flowId }
        _modify { yield &storage.fields.flowId }
    }
    /// The provider's call-log record for this party.
    @inlinable
    public var callLogRef: String? {
        _read { yield storage.fields.callLogRef }
        _modify { yield &storage.fields.callLogRef }
    }
    /// The line or trunk the call used on this side.
    @inlinable
    public var lineRef: String? {
        _read { yield storage.fields.lineRef }
        _modify { yield &storage.fields.lineRef }
    }

    public init(number: String? = nil, name: String? = nil, kind: String? = nil, user: String? = nil) {
        storage = SharedFields(
            Fields(number: number, numberE164: number.flatMap(PhoneNumber.e164), name: name, kind: kind, user: user))
    }

    public init(from decoder: any Decoder) throws {
        storage = SharedFields(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try storage.fields.encode(to: encoder)
    }

    public static func == (lhs: CallParty, rhs: CallParty) -> Bool {
        lhs.storage.isShared(with: rhs.storage) || lhs.storage.fields == rhs.storage.fields
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
