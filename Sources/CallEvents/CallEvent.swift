import Foundation

/// A normalized call event: a CloudEvents 1.0 envelope (JSON format) around ``CallEventData``.
///
/// This is what CRMs and people receive; the PBX's own notification is only in `data.raw`, and only
/// when configured. `id` is stable: the same source event gives the same id after a repeat, a
/// reconnect or a restart, so receivers can deduplicate on it.
public struct CallEvent: Sendable, Equatable, Codable {
    public static let specVersion = "1.0"
    public static let dataContentType = "application/json"

    /// The fields, behind one reference: an event is copied into every batch, entry and sink on its
    /// way, and a copy of the fields themselves costs dozens of reference counts (perf showed copies
    /// at a tenth of the pipeline's time).
    private final class Storage: @unchecked Sendable {
        // Mutated only through `CallEvent`'s setters, which copy it first unless uniquely referenced.
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private struct Fields: Equatable, Codable {
        var specversion: String
        var id: String
        var source: String
        var type: CallEventType
        var time: Date
        var subject: String
        var datacontenttype: String
        var data: CallEventData
    }

    private var storage: Storage

    /// One field; a write copies the fields first unless this event holds the only reference.
    private subscript<Value>(field: WritableKeyPath<Fields, Value>) -> Value {
        get { storage.fields[keyPath: field] }
        set {
            if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.fields) }
            storage.fields[keyPath: field] = newValue
        }
    }

    public var specversion: String {
        get { self[\.specversion] }
        set { self[\.specversion] = newValue }
    }
    public var id: String {
        get { self[\.id] }
        set { self[\.id] = newValue }
    }
    /// `/tenants/{tenant}/{provider}`: where the event comes from, as a URI reference.
    public var source: String {
        get { self[\.source] }
        set { self[\.source] = newValue }
    }
    public var type: CallEventType {
        get { self[\.type] }
        set { self[\.type] = newValue }
    }
    /// When it happened at the provider (`data.occurred_at`), or when we received it if the provider
    /// did not say.
    public var time: Date {
        get { self[\.time] }
        set { self[\.time] = newValue }
    }
    /// The call: `data.call_id`.
    public var subject: String {
        get { self[\.subject] }
        set { self[\.subject] = newValue }
    }
    public var datacontenttype: String {
        get { self[\.datacontenttype] }
        set { self[\.datacontenttype] = newValue }
    }
    public var data: CallEventData {
        get { self[\.data] }
        set { self[\.data] = newValue }
    }

    public init(id: String, type: CallEventType, data: CallEventData) {
        storage = Storage(
            Fields(
                specversion: Self.specVersion, id: id, source: "/tenants/\(data.tenant)/\(data.provider)", type: type,
                time: data.occurredAt ?? data.receivedAt, subject: data.callId, datacontenttype: Self.dataContentType,
                data: data))
    }

    public init(from decoder: any Decoder) throws {
        storage = Storage(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try storage.fields.encode(to: encoder)
    }

    public static func == (lhs: CallEvent, rhs: CallEvent) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
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
