import CallRelayCore
import Foundation

/// A hand-over: `party` was talking to `from`, and now talks to `to`.
public struct CallTransfer: Sendable, Equatable, Codable {
    /// The party that was handed over (usually the customer).
    public var party: CallParty
    /// Who handed the party over.
    public var from: CallParty
    /// Who received the party.
    public var to: CallParty
    /// The call the party was in before the hand-over.
    public var previousCallId: String

    public init(party: CallParty, from: CallParty, to: CallParty, previousCallId: String) {
        self.party = party
        self.from = from
        self.to = to
        self.previousCallId = previousCallId
    }

    enum CodingKeys: String, CodingKey {
        case party, from, to
        case previousCallId = "previous_call_id"
    }
}
