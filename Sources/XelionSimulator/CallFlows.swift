import Foundation

/// One event the simulator puts on the socket.
public struct SimulatedEvent: Sendable {
    public var type: String
    public var notification: [String: String]
    /// The vendor's documented repeat of an attended transfer's consult hangup.
    public var isDuplicate: Bool
}

/// Realistic call flows: answered calls, missed calls with the channel hangups of line hunting, and
/// attended transfers whose consult hangup comes twice, as the vendor documents.
public struct CallFlows: Sendable {
    public var transferRatio: Double
    public var missedRatio: Double
    /// Kinds played first, in order, before the ratios decide.
    public var opening: [Kind] = []

    public enum Kind: Sendable {
        case answered, missed, attendedTransfer
    }
    private var serial = 0
    private var generator: SplitMix

    public init(seed: UInt64 = 1, transferRatio: Double = 0.2, missedRatio: Double = 0.2) {
        self.transferRatio = transferRatio
        self.missedRatio = missedRatio
        generator = SplitMix(state: seed)
    }

    private mutating func id(_ prefix: String) -> String {
        serial += 1
        return prefix + String(format: "%08d", serial)
    }

    private mutating func party(_ number: String, user: String?) -> [String: String] {
        var fields = [
            "FlowId": id("flow"), "PhoneNumber": number, "Addressable": "ad-\(number.suffix(4))", "CallLogOid": id("log"),
        ]
        if let user {
            fields["User"] = user
            fields["UserAddressable"] = "ua-\(user)"
        }
        return fields
    }

    private static func now() -> String {
        // By hand rather than with a format style, which was most of the cost of generating a
        // benchmark's hundred thousand events.
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    private func event(
        _ type: String, _ call: String, _ caller: [String: String], _ callee: [String: String], _ initiation: String,
        duration: Int? = nil, only: String? = nil, duplicate: Bool = false
    ) -> SimulatedEvent {
        var body = ["initiation": initiation, "date": Self.now(), "callId": call]
        for (side, party) in [("caller", caller), ("callee", callee)] where only == nil || only == side {
            for (key, value) in party { body[side + key] = value }
        }
        if type == "callHungUpEvent" { body["duration"] = String(duration ?? 0) }
        return SimulatedEvent(type: type, notification: body, isDuplicate: duplicate)
    }

    /// The events of one call, in the order the PBX sends them.
    public mutating func nextCall() -> [SimulatedEvent] {
        let customer = "+3120" + String(Int.random(in: 1_000_000...9_999_999, using: &generator))
        let userA = String(format: "user-%03d", Int.random(in: 0..<100, using: &generator))
        let userB = String(format: "user-%03d", Int.random(in: 100..<200, using: &generator))
        let c = party(customer, user: nil)
        let a = party(String(format: "+31880001%03d", Int.random(in: 0..<1000, using: &generator)), user: userA)
        let first = id("call")
        var roll = Double.random(in: 0..<1, using: &generator)
        if !opening.isEmpty {
            switch opening.removeFirst() {
            case .missed: roll = 0
            case .attendedTransfer: roll = missedRatio
            case .answered: roll = 1
            }
        }
        var events = [event("newCallEvent", first, c, a, "incoming")]
        if roll < missedRatio {
            events.append(event("channelHungUpEvent", first, c, a, "incoming", only: "callee"))
            events.append(event("missedCallEvent", first, c, a, "incoming"))
            events.append(event("callHungUpEvent", first, c, a, "incoming", duration: 0))
            return events
        }
        events.append(event("callConnectedEvent", first, c, a, "incoming"))
        if roll < missedRatio + transferRatio {
            var a2 = a
            a2["FlowId"] = id("flow")
            a2["CallLogOid"] = id("log")
            let b = party(String(format: "+31880002%03d", Int.random(in: 0..<1000, using: &generator)), user: userB)
            let consult = id("call")
            events.append(event("newCallEvent", consult, a2, b, "outgoing"))
            events.append(event("callConnectedEvent", consult, a2, b, "outgoing"))
            events.append(event("callHungUpEvent", first, c, a, "incoming", duration: Int.random(in: 5..<90, using: &generator)))
            let hangup = event("callHungUpEvent", consult, a2, b, "outgoing", duration: Int.random(in: 5..<60, using: &generator))
            events.append(hangup)
            var again = hangup
            again.isDuplicate = true
            events.append(again)
            let final = id("call")
            events.append(event("callConnectedEvent", final, c, b, "incoming"))
            events.append(event("callHungUpEvent", final, c, b, "incoming", duration: Int.random(in: 5..<300, using: &generator)))
            return events
        }
        events.append(event("callHungUpEvent", first, c, a, "incoming", duration: Int.random(in: 5..<600, using: &generator)))
        return events
    }
}

/// A small deterministic generator, so a seed replays the same calls.
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
