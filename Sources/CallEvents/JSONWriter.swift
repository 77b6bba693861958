import Foundation
import Xelion

/// Writes events as compact JSON with keys in a fixed order and absent fields left out.
///
/// Hand-written rather than `JSONEncoder`: it runs once per event on the hot path, its output is the
/// bytes the journal, the log stream and the webhook signatures share, and a fixed key order keeps
/// those bytes the same on every platform.
struct JSONWriter {
    private(set) var text = ""
    private var needsComma = false

    init() { text.reserveCapacity(1024) }

    mutating func write(_ event: CallEvent) {
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

    private mutating func write(_ data: CallEventData) {
        open()
        key("schema_version")
        text.append(String(data.schemaVersion))
        needsComma = true
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

    private mutating func party(_ name: String, _ party: CallParty?) {
        guard let party else { return }
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

    // MARK: Primitives

    private mutating func open() {
        text.append("{")
        needsComma = false
    }

    private mutating func close() {
        text.append("}")
        needsComma = true
    }

    private mutating func key(_ key: String) {
        if needsComma { text.append(",") }
        text.append("\"")
        text.append(key)
        text.append("\":")
        needsComma = false
    }

    private mutating func field(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
        needsComma = true
    }

    private mutating func field(_ name: String, _ value: Date?) {
        guard let value else { return }
        key(name)
        text.append("\"")
        RFC3339.append(value, to: &text)
        text.append("\"")
        needsComma = true
    }

    private mutating func field(_ name: String, _ value: Double?) {
        guard let value, value.isFinite else { return }
        key(name)
        number(value)
        needsComma = true
    }

    private mutating func array<Element>(_ name: String, _ elements: [Element], _ body: (inout JSONWriter, Element) -> Void) {
        key(name)
        text.append("[")
        for (index, element) in elements.enumerated() {
            if index > 0 { text.append(",") }
            body(&self, element)
        }
        text.append("]")
        needsComma = true
    }

    private mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 1e15 {
            text.append(String(Int64(value)))
        } else {
            text.append(String(value))
        }
    }

    /// Any JSON value; with `sortedKeys`, objects in key order, for a canonical form.
    mutating func value(_ value: JSONValue, sortedKeys: Bool) {
        switch value {
        case .null: text.append("null")
        case .bool(let flag): text.append(flag ? "true" : "false")
        case .number(let number): self.number(number.isFinite ? number : 0)
        case .string(let string): self.string(string)
        case .array(let elements):
            text.append("[")
            for (index, element) in elements.enumerated() {
                if index > 0 { text.append(",") }
                self.value(element, sortedKeys: sortedKeys)
            }
            text.append("]")
        case .object(let object):
            text.append("{")
            let keys = sortedKeys ? object.keys.sorted() : Array(object.keys)
            for (index, key) in keys.enumerated() {
                if index > 0 { text.append(",") }
                string(key)
                text.append(":")
                if let element = object[key] { self.value(element, sortedKeys: sortedKeys) }
            }
            text.append("}")
        }
        needsComma = true
    }

    private mutating func string(_ value: String) {
        text.append("\"")
        var clean = true
        for byte in value.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            clean = false
            break
        }
        if clean {
            text.append(value)
        } else {
            for scalar in value.unicodeScalars {
                switch scalar {
                case "\"": text.append("\\\"")
                case "\\": text.append("\\\\")
                case "\n": text.append("\\n")
                case "\r": text.append("\\r")
                case "\t": text.append("\\t")
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    text.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                default: text.unicodeScalars.append(scalar)
                }
            }
        }
        text.append("\"")
    }
}

extension JSONValue {
    /// Compact JSON with object keys sorted: equal values give equal text.
    public var canonicalJSON: String {
        var writer = JSONWriter()
        writer.value(self, sortedKeys: true)
        return writer.text
    }
}
