import CallRelayCore
import Foundation

/// Events as JSON, with keys in a fixed order and absent fields left out.
extension JSONWriter {
    /// One event as JSON: the CloudEvents envelope, then `data`.
    package mutating func write(_ event: CallEvent) {
        open()
        field("specversion", event.specversion)
        field("id", event.id)
        field("source", event.source)
        field("type", event.type.rawValue)
        field("time", event.time)
        field("subject", event.subject)
        field("datacontenttype", event.datacontenttype)
        key("data")
        write(event.data)
        close()
    }

    private mutating func write(_ data: borrowing CallEventData) {
        open()
        field("schema_version", data.schemaVersion)
        field("tenant", data.tenant)
        field("provider", data.provider)
        field("provider_event", data.providerEvent)
        field("call_id", data.callId)
        field("direction", data.direction.rawValue)
        party("caller", data.caller)
        party("callee", data.callee)
        field("occurred_at", data.occurredAt)
        field("received_at", data.receivedAt)
        field("started_at", data.startedAt)
        field("answered_at", data.answeredAt)
        field("ended_at", data.endedAt)
        field("duration_seconds", data.durationSeconds)
        field("talk_seconds", data.talkSeconds)
        field("outcome", data.outcome?.rawValue)
        field("missed_reason", data.missedReason)
        field("hangup_cause", data.hangupCause)
        party("answered_by", data.answeredBy)
        field("recording_url", data.recordingURL)
        if let dtmf = data.dtmf {
            array("dtmf", dtmf) { writer, input in
                writer.open()
                writer.field("digits", input.digits)
                writer.field("at", input.at)
                writer.field("label", input.label)
                writer.close()
            }
        }
        if let legs = data.legs {
            array("legs", legs) { writer, leg in
                writer.open()
                writer.field("id", leg.id)
                writer.party("party", leg.party)
                writer.field("started_at", leg.startedAt)
                writer.field("answered_at", leg.answeredAt)
                writer.field("ended_at", leg.endedAt)
                writer.field("duration_seconds", leg.durationSeconds)
                writer.field("hangup_cause", leg.hangupCause)
                writer.close()
            }
        }
        if let transfer = data.transfer {
            key("transfer")
            open()
            party("party", transfer.party)
            party("from", transfer.from)
            party("to", transfer.to)
            field("previous_call_id", transfer.previousCallId)
            close()
        }
        if let raw = data.raw {
            key("raw")
            value(raw, sortedKeys: true)
        }
        close()
    }

    private mutating func party(_ name: StaticString, _ party: CallParty?) {
        if let party { self.party(name, party) }
    }

    /// Borrowed, as is `data` above, so that nothing here asks for a copy (the compiler still copies
    /// `data` where `write(_:)` passes it from the event's storage).
    private mutating func party(_ name: StaticString, _ party: borrowing CallParty) {
        key(name)
        open()
        field("number", party.number)
        field("number_e164", party.numberE164)
        field("name", party.name)
        field("kind", party.kind)
        field("user", party.user)
        field("user_ref", party.userRef)
        field("contact_ref", party.contactRef)
        field("contact_sync_id", party.contactSyncId)
        field("contact_sync_source", party.contactSyncSource)
        field("flow_id", party.flowId)
        field("call_log_ref", party.callLogRef)
        field("line_ref", party.lineRef)
        close()
    }
}

/// Events' JSON as JSON Lines, one buffer for many events: what a commit stores and the log stream
/// writes, gathered once instead of as a `String` per event and copied again into each batch's lines.
public struct CallEventJSONLines: ~Copyable {
    private var writer: JSONWriter

    /// - Parameter capacity: the bytes to make room for at once (about 1 KiB an event), so that a
    ///   commit's buffer is not regrown and copied as it fills.
    public init(capacity: Int = 1024) {
        writer = JSONWriter(capacity: capacity)
    }

    /// Appends `event`'s JSON (the bytes of ``CallEvent/json()``) and a newline; returns where the JSON
    /// is, without the newline.
    public mutating func append(_ event: CallEvent) -> Range<Int> {
        appendLine { $0.write(event) }
    }

    /// Appends JSON given as text (an event read back, or made by hand) and a newline; returns where
    /// the JSON is.
    public mutating func append(json: String) -> Range<Int> {
        appendLine { $0.raw(json) }
    }

    private mutating func appendLine(_ write: (inout JSONWriter) -> Void) -> Range<Int> {
        let start = writer.count
        write(&writer)
        let end = writer.count
        writer.raw(UInt8(ascii: "\n"))
        return start..<end
    }

    /// Calls `body` with the bytes in `range`, valid only inside `body` (the next append may move them).
    public func withBytes<Result>(
        in range: Range<Int>, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        try writer.withUTF8 { try body(UnsafeBufferPointer(rebasing: $0[range])) }
    }
}
