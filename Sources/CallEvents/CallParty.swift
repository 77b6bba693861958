import CallRelayCore
import Foundation

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
