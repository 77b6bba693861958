import Foundation
import Xelion

/// Writes events as compact JSON with keys in a fixed order and absent fields left out.
///
/// Hand-written rather than `JSONEncoder`: it runs once per event on the hot path, its output is the
/// bytes the journal, the log stream and the webhook signatures share, and a fixed key order keeps
/// those bytes the same on every platform.
struct JSONWriter: ~Copyable {
    /// UTF-8 bytes rather than a `String`, in a buffer the writer owns rather than an `[UInt8]` or a
    /// class: each append to an array checks that it is the array's only owner and has room, and a
    /// class buffer was retained and released around most appends (perf: about 2.5 % of the
    /// pipeline). An event is a few hundred appends.
    private var bytes: ByteStorage
    private var needsComma = false

    init(capacity: Int = 1024) {
        bytes = ByteStorage(capacity: capacity)
    }

    var text: String { bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) } }
    /// How many bytes are written.
    var count: Int { bytes.count }
    var utf8: [UInt8] { bytes.withUnsafeBufferPointer { Array($0) } }

    /// Empties the writer for the next value, keeping its buffer.
    mutating func reset() {
        bytes.removeAll()
        needsComma = false
    }

    func withUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBufferPointer(body)
    }

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

    private mutating func write(_ data: borrowing CallEventData) {
        open()
        key("schema_version")
        raw(String(data.schemaVersion))
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

    // MARK: Primitives

    private mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    private mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    private mutating func raw(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `text`'s UTF-8 as it is, unquoted and unescaped.
    mutating func raw(_ text: String) {
        text.withUTF8Bytes { bytes.append(contentsOf: $0) }
    }

    /// Bytes as they are.
    mutating func raw(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: utf8)
    }

    /// One byte as it is.
    mutating func raw(_ byte: UInt8) {
        bytes.append(byte)
    }

    private mutating func key(_ key: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    private mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        field(name, value)
    }

    /// A string that is always there: taken as it is, without the copy that wrapping it in an
    /// optional makes.
    private mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
        needsComma = true
    }

    private mutating func field(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        key(name)
        bytes.append(UInt8(ascii: "\""))
        RFC3339.withUTF8(value) { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    private mutating func field(_ name: StaticString, _ value: Double?) {
        guard let value, value.isFinite else { return }
        key(name)
        number(value)
        needsComma = true
    }

    private mutating func array<Element>(
        _ name: StaticString, _ elements: [Element], _ body: (inout JSONWriter, Element) -> Void
    ) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            body(&self, element)
        }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    private mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 1e15 {
            raw(String(Int64(value)))
        } else {
            raw(String(value))
        }
    }

    /// Any JSON value; with `sortedKeys`, objects in key order, for a canonical form.
    mutating func value(_ value: JSONValue, sortedKeys: Bool) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): flag ? raw("true") : raw("false")
        case .number(let number): raw(number.text)
        case .string(let string): self.string(string)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            let pairs = sortedKeys ? object.sorted { $0.key < $1.key } : Array(object)
            for (index, pair) in pairs.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                string(pair.key)
                bytes.append(UInt8(ascii: ":"))
                self.value(pair.value, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "}"))
        }
        needsComma = true
    }

    /// An object whose members are already in key order: the canonical form without sorting.
    mutating func object(_ object: JSONObjectMembers) {
        bytes.append(UInt8(ascii: "{"))
        for (index, member) in object.members.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(member.key)
            bytes.append(UInt8(ascii: ":"))
            value(member.value, sortedKeys: true)
        }
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    private mutating func string(_ value: String) {
        value.withUTF8Bytes { string($0) }
    }

    private mutating func string(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        guard let base = utf8.baseAddress else { return }
        var clean = 0  // start of the run of bytes that need no escaping
        while true {
            let index = JSONStringBytes.firstSpecial(in: utf8, from: clean)
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + clean, count: index - clean))
            guard index < utf8.count else { return }
            let byte = base[index]
            clean = index + 1
            switch byte {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            default:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// A growable byte buffer that is never shared: ``JSONWriter``'s storage. Noncopyable, so that it
/// needs neither copy-on-write checks nor reference counting.
struct ByteStorage: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    func withUnsafeBufferPointer<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    private mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
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

extension JSONValue {
    /// Compact JSON with object keys sorted: equal values give equal text.
    public var canonicalJSON: String { String(decoding: canonicalUTF8, as: UTF8.self) }

    /// ``canonicalJSON`` as UTF-8 bytes.
    public var canonicalUTF8: [UInt8] {
        var writer = JSONWriter()
        writer.value(self, sortedKeys: true)
        return writer.utf8
    }
}

extension JSONObjectMembers {
    /// Compact JSON with keys sorted: the same bytes as `JSONValue.object(dictionary).canonicalUTF8`.
    public var canonicalUTF8: [UInt8] {
        var writer = JSONWriter()
        writer.object(self)
        return writer.utf8
    }
}
