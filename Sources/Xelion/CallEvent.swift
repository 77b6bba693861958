import Foundation

/// The five admin call events the relay subscribes to by default.
public enum XelionCallEventType: String, Sendable, CaseIterable, Codable {
    case newCallEvent
    case callConnectedEvent
    case callHungUpEvent
    case missedCallEvent
    case channelHungUpEvent
}

/// One side of a call, as the PBX describes it. Every field is optional: `channelHungUpEvent` fills
/// only one side, and the vendor publishes no captured payload.
public struct XelionParty: Sendable, Hashable, Codable {
    public var user: String?
    public var userAddressable: String?
    public var phoneNumber: String?
    public var addressable: String?
    public var addressableSyncId: String?
    public var addressableSyncSource: String?
    public var callLogOid: String?

    public var isEmpty: Bool {
        // Field by field: an array of the seven would be allocated for every side of every event.
        user == nil && userAddressable == nil && phoneNumber == nil && addressable == nil && addressableSyncId == nil
            && addressableSyncSource == nil && callLogOid == nil
    }
}

/// A `CallEvent` notification (vendor page, seed 003), decoded leniently: numbers sent as strings and
/// strings as numbers are both accepted, missing optional fields are nil, and the whole object is kept
/// in `raw` so nothing the PBX sent is lost.
public struct XelionCallEvent: Sendable, Hashable {
    public var type: XelionCallEventType
    public var initiation: String?
    /// `date` as sent.
    public var dateText: String?
    public var callId: String
    public var callerFlowId: String?
    public var calleeFlowId: String?
    public var caller: XelionParty
    public var callee: XelionParty
    public var calleePhoneLineOid: String?
    /// Seconds; `callHungUpEvent` only.
    public var duration: Int?
    public var raw: [String: JSONValue]

    /// Why a notification could not be read as a call event.
    public struct DecodingFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public init(type: XelionCallEventType, notification: JSONValue) throws(DecodingFailure) {
        guard case .object(let object) = notification else {
            throw DecodingFailure(reason: "the notification of \(type.rawValue) is not an object")
        }
        guard let callId = object["callId"]?.text, !callId.isEmpty else {
            throw DecodingFailure(reason: "\(type.rawValue) without a callId")
        }
        func text(_ key: String) -> String? {
            guard let value = object[key]?.text, !value.isEmpty else { return nil }
            return value
        }
        func party(_ keys: PartyKeys) -> XelionParty {
            XelionParty(
                user: text(keys.user),
                userAddressable: text(keys.userAddressable),
                phoneNumber: text(keys.phoneNumber),
                addressable: text(keys.addressable),
                addressableSyncId: text(keys.addressableSyncId),
                addressableSyncSource: text(keys.addressableSyncSource),
                callLogOid: text(keys.callLogOid)
            )
        }
        self.type = type
        self.initiation = text("initiation")
        self.dateText = text("date")
        self.callId = callId
        self.callerFlowId = text("callerFlowId")
        self.calleeFlowId = text("calleeFlowId")
        self.caller = party(.caller)
        self.callee = party(.callee)
        self.calleePhoneLineOid = text("calleePhoneLineOid")
        self.duration = object["duration"]?.integer
        self.raw = object
    }

    /// The keys of one side's fields, made once: most are too long for Swift's inline strings, so
    /// building them for every event would allocate each.
    private struct PartyKeys: Sendable {
        let user, userAddressable, phoneNumber, addressable, addressableSyncId, addressableSyncSource, callLogOid: String

        init(_ side: String) {
            user = side + "User"
            userAddressable = side + "UserAddressable"
            phoneNumber = side + "PhoneNumber"
            addressable = side + "Addressable"
            addressableSyncId = side + "AddressableSyncId"
            addressableSyncSource = side + "AddressableSyncSource"
            callLogOid = side + "CallLogOid"
        }

        static let caller = PartyKeys("caller")
        static let callee = PartyKeys("callee")
    }

    /// `date` as an instant; a zone-less date is read in `zone` (UTC unless configured).
    public func date(in zone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        dateText.flatMap { XelionDate.parse($0, defaultZone: zone) }
    }
}
