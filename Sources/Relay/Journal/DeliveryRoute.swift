import CallEvents
import Foundation

/// Which endpoints receive which events, by tenant: the journal adds a pending delivery for each in
/// the event's own commit.
public struct DeliveryRoute: Sendable, Equatable {
    /// `tenant url`: the endpoint's name in the journal.
    public var endpoint: String
    /// Empty: every type.
    public var types: Set<String>

    public init(tenant: String, url: String, types: [String]) {
        endpoint = "\(tenant) \(url)"
        self.types = Set(types)
    }

    func wants(_ event: CallEvent) -> Bool { types.isEmpty || types.contains(event.type.rawValue) }
}
