import CallRelayCore
import CallEvents
import Foundation

/// One line per event for people: time (UTC), tenant, type, call, who and what. Colour only when
/// asked, which callers do only for a terminal.
public struct PrettyEventFormat: Sendable {
    public var colour: Bool

    public init(colour: Bool) { self.colour = colour }

    public func line(_ event: CallEvent) -> String {
        let data = event.data
        let time = RFC3339.string(event.time)
        let clock = String(time.dropFirst(11).prefix(12))  // HH:mm:ss.SSS
        let type = event.type.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
        var line = "\(clock)  \(data.tenant)  \(paint(type, for: event.type))  \(data.callId)  "
        if let transfer = data.transfer {
            line += "\(Self.name(transfer.party)) handed from \(Self.name(transfer.from)) to \(Self.name(transfer.to))"
        } else {
            line += "\(data.caller.map(Self.name) ?? "?") → \(data.callee.map(Self.name) ?? "?")"
        }
        if data.direction != .unknown { line += "  \(data.direction.rawValue)" }
        if let duration = data.durationSeconds { line += "  \(Self.seconds(duration))" }
        if let reason = data.missedReason { line += "  (\(reason))" }
        return line
    }

    /// A user by name, a customer by number.
    static func name(_ party: CallParty) -> String {
        if let user = party.user ?? party.name {
            return party.number.map { "\(user) (\($0))" } ?? user
        }
        return party.numberE164 ?? party.number ?? party.contactRef ?? "?"
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
