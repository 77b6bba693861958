import CallRelayCore

/// What happened to a call: the CloudEvents `type` of a normalized event.
///
/// A struct rather than an enum, so that a type added by a newer callrelay (or an adapter for another
/// provider) decodes in an older reader instead of failing it.
public struct CallEventType: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A call began ringing somewhere.
    public static let started = CallEventType(rawValue: "call.started")
    /// Two parties are talking.
    public static let connected = CallEventType(rawValue: "call.connected")
    /// The call is over for both sides.
    public static let ended = CallEventType(rawValue: "call.ended")
    /// Nobody answered.
    public static let missed = CallEventType(rawValue: "call.missed")
    /// One side's channel hung up; the call may go on elsewhere.
    public static let channelEnded = CallEventType(rawValue: "call.channel_ended")
    /// A party was handed from one user to another (correlated by callrelay).
    public static let transferred = CallEventType(rawValue: "call.transferred")

    public static let all: [CallEventType] = [.started, .connected, .ended, .missed, .channelEnded, .transferred]

    /// Hangups repeat under a new `date` in attended transfers; they are deduplicated on their ids alone.
    public var isHangup: Bool { self == .ended || self == .channelEnded }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
