import CallEvents
import CallRelayCore
import Foundation

/// One line per event for people: time (UTC), tenant, type, call, who and what. Colour only when
/// asked, which callers do only for a terminal.
public struct PrettyEventFormat: Sendable {
    public var colour: Bool

    public init(colour: Bool) { self.colour = colour }

    public func line(_ event: CallEvent) -> String {
        let data = event.data
        return line(
            time: event.time, tenant: data.tenant, type: event.type, callId: data.callId,
            transfer: data.transfer.map { (Party($0.party), Party($0.from), Party($0.to)) },
            caller: data.caller.map(Party.init), callee: data.callee.map(Party.init), direction: data.direction.rawValue,
            duration: data.durationSeconds, missedReason: data.missedReason)
    }

    /// The line of an event's JSON as the journal keeps it, read for the few fields shown rather
    /// than decoded whole: `callrelay tail` reads a million of them. Nil when it is not an event.
    public func line(json: String) -> String? {
        if let fields = PrettyEventFields(json: json) {
            guard let type = fields.type, let time = fields.time.flatMap(RFC3339.parse) else { return nil }
            return line(
                time: time, tenant: fields.tenant ?? "?", type: CallEventType(rawValue: type), callId: fields.callId ?? "?",
                transfer: fields.transfer.map { (Party($0.party), Party($0.from), Party($0.to)) },
                caller: fields.caller.map(Party.init), callee: fields.callee.map(Party.init),
                direction: fields.direction ?? "unknown", duration: fields.durationText.flatMap(Double.init),
                missedReason: fields.missedReason)
        }
        return strictLine(json: json)
    }

    /// ``line(json:)`` for a row the one-pass reader leaves (an escaped string, an odd shape): the
    /// event decoded whole, as such rows are rare.
    func strictLine(json: String) -> String? {
        (try? CallEvent.decode(json: json)).map(line)
    }

    private func line(
        time: Date, tenant: String, type: CallEventType, callId: String, transfer: (Party, Party, Party)?,
        caller: Party?, callee: Party?, direction: String, duration: Double?, missedReason: String?
    ) -> String {
        let clock = String(RFC3339.string(time).dropFirst(11).prefix(12))  // HH:mm:ss.SSS
        // By hand: Foundation's `padding(toLength:)` bridges through NSString on every line.
        var typeName = type.rawValue
        if typeName.count < 18 { typeName += String(repeating: " ", count: 18 - typeName.count) }
        var line = "\(clock)  \(tenant)  \(paint(typeName, for: type))  \(callId)  "
        if let (party, from, to) = transfer {
            line += "\(party.shown) handed from \(from.shown) to \(to.shown)"
        } else {
            line += "\(caller?.shown ?? "?") → \(callee?.shown ?? "?")"
        }
        if direction != CallDirection.unknown.rawValue { line += "  \(direction)" }
        if let duration { line += "  \(Self.seconds(duration))" }
        if let missedReason { line += "  (\(missedReason))" }
        return line
    }

    /// What a line shows of a party, from a ``CallParty`` or from its JSON.
    private struct Party {
        var user: String?
        var number: String?
        var numberE164: String?
        var contactRef: String?

        init(_ party: CallParty) {
            user = party.user ?? party.name
            (number, numberE164, contactRef) = (party.number, party.numberE164, party.contactRef)
        }

        init(_ fields: PrettyEventFields.Party) {
            user = fields.user ?? fields.name
            (number, numberE164, contactRef) = (fields.number, fields.numberE164, fields.contactRef)
        }

        /// A user by name, a customer by number.
        var shown: String {
            if let user { return number.map { "\(user) (\($0))" } ?? user }
            return numberE164 ?? number ?? contactRef ?? "?"
        }
    }

    static func seconds(_ value: Double) -> String {
        // Exactly or not at all: a journal row may hold any number, and 2^63 would trap.
        if let whole = Int(exactly: value) { return "\(whole) s" }
        return value.isFinite ? String(format: "%.1f s", value) : "? s"
    }

    private func paint(_ text: String, for type: CallEventType) -> String {
        guard colour else { return text }
        let code: String
        switch type {
        case .started: code = "36"  // cyan
        case .connected: code = "32"  // green
        case .ended, .channelEnded: code = "2"  // dim
        case .missed: code = "31"  // red
        case .transferred: code = "35"  // magenta
        default: code = "0"
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}
