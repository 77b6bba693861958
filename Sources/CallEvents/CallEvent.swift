import CallRelayCore
import Foundation

/// A normalized call event: a CloudEvents 1.0 envelope (JSON format) around ``CallEventData``.
///
/// This is what CRMs and people receive; the PBX's own notification is only in `data.raw`, and only
/// when configured. `id` is stable: the same source event gives the same id after a repeat, a
/// reconnect or a restart, so receivers can deduplicate on it.
public struct CallEvent: Sendable, Equatable, Codable {
    public static let specVersion = "1.0"
    public static let dataContentType = "application/json"

    @usableFromInline
    struct Fields: Sendable, Equatable, Codable {
        @usableFromInline var specversion: String
        @usableFromInline var id: String
        @usableFromInline var source: String
        @usableFromInline var type: CallEventType
        @usableFromInline var time: Date
        @usableFromInline var subject: String
        @usableFromInline var datacontenttype: String
        @usableFromInline var data: CallEventData
    }

    /// The fields, behind one reference: an event is copied into every batch, entry and sink on its
    /// way, and a copy of the fields themselves costs dozens of reference counts.
    @usableFromInline var storage: SharedFields<Fields>

    @inlinable
    public var specversion: String {
        _read { yield storage.fields.specversion }
        _modify { yield &storage.fields.specversion }
    }
    @inlinable
    public var id: String {
        _read { yield storage.fields.id }
        _modify { yield &storage.fields.id }
    }
    /// `/tenants/{tenant}/{provider}`: where the event comes from, as a URI reference.
    @inlinable
    public var source: String {
        _read { yield storage.fields.source }
        _modify { yield &storage.fields.source }
    }
    @inlinable
    public var type: CallEventType {
        _read { yield storage.fields.type }
        _modify { yield &storage.fields.type }
    }
    /// When it happened at the provider (`data.occurred_at`), or when we received it if the provider
    /// did not say.
    @inlinable
    public var time: Date {
        _read { yield storage.fields.time }
        _modify { yield &storage.fields.time }
    }
    /// The call: `data.call_id`.
    @inlinable
    public var subject: String {
        _read { yield storage.fields.subject }
        _modify { yield &storage.fields.subject }
    }
    @inlinable
    public var datacontenttype: String {
        _read { yield storage.fields.datacontenttype }
        _modify { yield &storage.fields.datacontenttype }
    }
    @inlinable
    public var data: CallEventData {
        _read { yield storage.fields.data }
        _modify { yield &storage.fields.data }
    }

    public init(id: String, type: CallEventType, data: CallEventData) {
        self.init(id: id, type: type, data: data, source: Self.source(tenant: data.tenant, provider: data.provider))
    }

    /// With `source` already made, as a mapping does once for its tenant rather than per event.
    package init(id: String, type: CallEventType, data: consuming CallEventData, source: String) {
        storage = SharedFields(
            Fields(
                specversion: Self.specVersion, id: id, source: source, type: type, time: data.occurredAt ?? data.receivedAt,
                subject: data.callId, datacontenttype: Self.dataContentType, data: data))
    }

    /// The `source` of a tenant's events from one provider.
    package static func source(tenant: String, provider: String) -> String { "/tenants/\(tenant)/\(provider)" }

    public init(from decoder: any Decoder) throws {
        storage = SharedFields(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try storage.fields.encode(to: encoder)
    }

    public static func == (lhs: CallEvent, rhs: CallEvent) -> Bool {
        lhs.storage.isShared(with: rhs.storage) || lhs.storage.fields == rhs.storage.fields
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
