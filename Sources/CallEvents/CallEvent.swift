import Foundation

/// A normalized call event: a CloudEvents 1.0 envelope (JSON format) around ``CallEventData``.
///
/// This is what CRMs and people receive; the PBX's own notification is only in `data.raw`, and only
/// when configured. `id` is stable: the same source event gives the same id after a repeat, a
/// reconnect or a restart, so receivers can deduplicate on it.
public struct CallEvent: Sendable, Equatable, Codable {
    public static let specVersion = "1.0"
    public static let dataContentType = "application/json"

    public var specversion: String = CallEvent.specVersion
    public var id: String
    /// `/tenants/{tenant}/{provider}`: where the event comes from, as a URI reference.
    public var source: String
    public var type: CallEventType
    /// When it happened at the provider (`data.occurred_at`), or when we received it if the provider
    /// did not say.
    public var time: Date
    /// The call: `data.call_id`.
    public var subject: String
    public var datacontenttype: String = CallEvent.dataContentType
    public var data: CallEventData

    public init(id: String, type: CallEventType, data: CallEventData) {
        self.id = id
        self.source = "/tenants/\(data.tenant)/\(data.provider)"
        self.type = type
        self.time = data.occurredAt ?? data.receivedAt
        self.subject = data.callId
        self.data = data
    }

    /// The event as one line of JSON, keys in a fixed order: the journal's, the log stream's and the
    /// webhooks' body.
    public func json() -> String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }

    /// Reads an event back from ``json()``.
    public static func decode(json: some StringProtocol) throws -> CallEvent {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = RFC3339.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "not RFC 3339: \(text)"))
            }
            return date
        }
        return try decoder.decode(CallEvent.self, from: Data(json.utf8))
    }
}
