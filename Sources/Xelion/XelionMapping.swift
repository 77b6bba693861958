import CallEvents
import CallRelayCore
import Foundation

/// How one tenant's Xelion events are normalized.
public struct XelionMapping: Sendable {
    public var tenant: String {
        didSet { source = CallEvent.source(tenant: tenant, provider: Self.provider) }
    }
    /// The zone of a `date` sent without one. The vendor documents UTC; a PBX set up otherwise can be
    /// matched per tenant.
    public var timeZone: TimeZone
    /// Keep the PBX's notification in `data.raw`.
    public var includeRaw: Bool

    public static let provider = "xelion"

    /// Every event's `source`, made once.
    private var source: String

    public init(tenant: String, timeZone: TimeZone = TimeZone(secondsFromGMT: 0) ?? .current, includeRaw: Bool = false) {
        self.tenant = tenant
        self.source = CallEvent.source(tenant: tenant, provider: Self.provider)
        self.timeZone = timeZone
        self.includeRaw = includeRaw
    }

    /// The normalized type of each of the PBX's call events.
    static func type(of type: XelionCallEventType) -> CallEventType {
        switch type {
        case .newCallEvent: .started
        case .callConnectedEvent: .connected
        case .callHungUpEvent: .ended
        case .missedCallEvent: .missed
        case .channelHungUpEvent: .channelEnded
        }
    }

    /// The normalized event of one Xelion notification.
    public func normalize(_ event: XelionCallEvent, receivedAt: Date) -> CallEvent {
        let type = Self.type(of: event.type)
        let caller = party(event.caller, flow: event.callerFlowId)
        var callee = party(event.callee, flow: event.calleeFlowId)
        callee?.lineRef = event.calleePhoneLineOid
        var data = CallEventData(
            tenant: tenant,
            provider: Self.provider,
            providerEvent: event.type.rawValue,
            callId: event.callId,
            direction: Self.direction(event.initiation, caller: caller, callee: callee),
            receivedAt: RFC3339.truncated(receivedAt)
        )
        data.caller = caller
        data.callee = callee
        data.occurredAt = event.date(in: timeZone).map(RFC3339.truncated)
        switch type {
        case .ended:
            data.endedAt = data.occurredAt
            data.durationSeconds = event.duration.map(Double.init)
        case .connected:
            data.answeredAt = data.occurredAt
            data.outcome = .answered
            data.answeredBy = callee
        case .started:
            data.startedAt = data.occurredAt
        case .missed:
            data.outcome = .missed
        default:
            break
        }
        if includeRaw { data.raw = .object(event.raw) }
        return CallEvent(id: Self.id(tenant: tenant, type: type, event: event), type: type, data: data, source: source)
    }

    /// Hangups by their ids alone; everything else by its whole content (see ``EventIdentity``).
    static func id(tenant: String, type: CallEventType, event: XelionCallEvent) -> String {
        var builder = EventIdentity.Builder(tenant: tenant, provider: provider)
        builder.append(event.type.rawValue)
        builder.append(event.callId)
        builder.append(event.callerFlowId ?? "")
        builder.append(event.calleeFlowId ?? "")
        if !type.isHangup { builder.append(canonical: event.notification) }
        return builder.id
    }

    /// `initiation` says how the call started; a call between two users of the PBX is internal
    /// whichever way it started.
    static func direction(_ initiation: String?, caller: CallParty?, callee: CallParty?) -> CallDirection {
        if caller?.user != nil, callee?.user != nil { return .internal }
        guard let initiation else { return .unknown }
        // As sent first: lowercasing makes a string each time, and the PBX sends lowercase.
        return direction(initiation) ?? direction(initiation.lowercased()) ?? .unknown
    }

    private static func direction(_ initiation: String) -> CallDirection? {
        switch initiation {
        case "incoming", "inbound", "in": .inbound
        case "outgoing", "outbound", "out": .outbound
        case "internal": .internal
        default: nil
        }
    }

    func party(_ party: XelionParty, flow: String?) -> CallParty? {
        guard !party.isEmpty || flow != nil else { return nil }
        var result = CallParty(number: party.phoneNumber, user: party.user)
        result.kind = party.user != nil ? "user" : (party.phoneNumber != nil ? "contact" : nil)
        result.userRef = party.userAddressable
        result.contactRef = party.addressable
        result.contactSyncId = party.addressableSyncId
        result.contactSyncSource = party.addressableSyncSource
        result.flowId = flow
        result.callLogRef = party.callLogOid
        return result
    }
}
