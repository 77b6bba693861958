import CallRelayCore
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
    /// The whole notification, keys sorted, so nothing the PBX sent is lost.
    public private(set) var notification: JSONObjectMembers

    /// The whole notification as a dictionary.
    public var raw: [String: JSONValue] {
        get { notification.dictionary }
        set { notification = JSONObjectMembers(newValue) }
    }

    /// Why a notification could not be read as a call event.
    public struct DecodingFailure: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public init(type: XelionCallEventType, notification: JSONValue) throws(DecodingFailure) {
        guard case .object(let object) = notification else {
            throw DecodingFailure(reason: "the notification of \(type.rawValue) is not an object")
        }
        try self.init(type: type, members: JSONObjectMembers(object))
    }

    /// Reads the fields in one pass over the members: looking each of twenty keys up in a dictionary
    /// hashed a key per lookup, and comparing each key with twenty `String`s was no cheaper.
    public init(type: XelionCallEventType, members: JSONObjectMembers) throws(DecodingFailure) {
        var callId: String?
        self.type = type
        caller = XelionParty()
        callee = XelionParty()
        for member in members.members {
            guard let field = Field(member.key) else { continue }
            if field == .duration {
                duration = member.value.integer
                continue
            }
            guard let text = member.value.text, !text.isEmpty else { continue }
            switch field {
            case .callId: callId = text
            case .initiation: initiation = text
            case .date: dateText = text
            case .duration: break
            case .callerFlowId: callerFlowId = text
            case .calleeFlowId: calleeFlowId = text
            case .calleePhoneLineOid: calleePhoneLineOid = text
            case .callerUser: caller.user = text
            case .callerUserAddressable: caller.userAddressable = text
            case .callerPhoneNumber: caller.phoneNumber = text
            case .callerAddressable: caller.addressable = text
            case .callerAddressableSyncId: caller.addressableSyncId = text
            case .callerAddressableSyncSource: caller.addressableSyncSource = text
            case .callerCallLogOid: caller.callLogOid = text
            case .calleeUser: callee.user = text
            case .calleeUserAddressable: callee.userAddressable = text
            case .calleePhoneNumber: callee.phoneNumber = text
            case .calleeAddressable: callee.addressable = text
            case .calleeAddressableSyncId: callee.addressableSyncId = text
            case .calleeAddressableSyncSource: callee.addressableSyncSource = text
            case .calleeCallLogOid: callee.callLogOid = text
            }
        }
        guard let callId else { throw DecodingFailure(reason: "\(type.rawValue) without a callId") }
        self.callId = callId
        self.notification = members
    }

    /// The notification's keys we read.
    private enum Field: String, CaseIterable {
        case callId, initiation, date, duration, callerFlowId, calleeFlowId, calleePhoneLineOid
        case callerUser, callerUserAddressable, callerPhoneNumber, callerAddressable, callerAddressableSyncId
        case callerAddressableSyncSource, callerCallLogOid
        case calleeUser, calleeUserAddressable, calleePhoneNumber, calleeAddressable, calleeAddressableSyncId
        case calleeAddressableSyncSource, calleeCallLogOid

        /// Found in ``messageKeys``, where the fields come first, in this order.
        init?(_ key: String) {
            guard let index = messageKeys.index(of: key), index < Self.allCases.count else { return nil }
            self = Self.allCases[index]
        }
    }

    /// The keys of the socket's messages: the fields, then the envelope's. The parser gives each one
    /// `String` rather than a new one per message.
    static let messageKeys = KeyTable(
        Field.allCases.map(\.rawValue) + ["notification", "notificationType", "messageType"])

    /// `date` as an instant; a zone-less date is read in `zone` (UTC unless configured).
    public func date(in zone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        dateText.flatMap { XelionDate.parse($0, defaultZone: zone) }
    }
}
