/// A close status code (RFC 6455 §7.4).
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = Self(1000)
    public static let goingAway = Self(1001)
    public static let protocolError = Self(1002)
    public static let unsupportedData = Self(1003)
    /// Reported locally when a close frame had no code; never sent.
    public static let noStatusReceived = Self(1005)
    /// Reported locally when the connection ended without a close frame; never sent.
    public static let abnormalClosure = Self(1006)
    public static let invalidPayload = Self(1007)
    public static let policyViolation = Self(1008)
    public static let messageTooBig = Self(1009)
    public static let mandatoryExtension = Self(1010)
    public static let internalError = Self(1011)

    /// Whether a peer may put this code in a close frame. 1005, 1006 and 1015 are local-only,
    /// the rest of 0–2999 is reserved or unassigned; 3000–4999 belong to libraries and applications.
    public var isValidOnTheWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String {
        let name: String
        switch self {
        case .normalClosure: name = "normal closure"
        case .goingAway: name = "going away"
        case .protocolError: name = "protocol error"
        case .unsupportedData: name = "unsupported data"
        case .noStatusReceived: name = "no status received"
        case .abnormalClosure: name = "abnormal closure"
        case .invalidPayload: name = "invalid payload"
        case .policyViolation: name = "policy violation"
        case .messageTooBig: name = "message too big"
        case .mandatoryExtension: name = "mandatory extension"
        case .internalError: name = "internal error"
        default: return "\(rawValue)"
        }
        return "\(rawValue) (\(name))"
    }
}
