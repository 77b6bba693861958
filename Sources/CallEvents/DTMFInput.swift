import CallRelayCore
import Foundation

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
