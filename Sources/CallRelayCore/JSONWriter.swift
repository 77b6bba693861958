import Foundation

/// Writes compact JSON, keys in the order they are written and absent fields left out.
///
/// Hand-written rather than `JSONEncoder`: it runs once per event on the hot path, its output is the
/// bytes the journal, the log stream and the webhook signatures share, and a fixed key order keeps
/// those bytes the same on every platform. Inlinable, as the event writers of other modules make a
/// few hundred of its calls per event.
package struct JSONWriter: ~Copyable {
    /// UTF-8 bytes rather than a `String`, in a buffer the writer owns rather than an `[UInt8]` or a
    /// class: each append to an array checks that it is the array's only owner and has room, and a
    /// class buffer is retained and released around most appends. An event is a few hundred appends.
    @usableFromInline var bytes: ByteStorage
    @usableFromInline var needsComma = false

    @inlinable
    package init(capacity: Int = 1024) {
        bytes = ByteStorage(capacity: capacity)
    }

    @inlinable package var text: String { bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) } }
    /// How many bytes are written.
    @inlinable package var count: Int { bytes.count }
    @inlinable package var utf8: [UInt8] { bytes.withUnsafeBufferPointer { Array($0) } }

    /// Empties the writer for the next value, keeping its buffer.
    @inlinable package mutating func reset() {
        bytes.removeAll()
        needsComma = false
    }

    @inlinable package func withUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBufferPointer(body)
    }

    // MARK: Primitives

    @inlinable package mutating func open() {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    @inlinable package mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    @inlinable package mutating func raw(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `text`'s UTF-8 as it is, unquoted and unescaped.
    @inlinable package mutating func raw(_ text: String) {
        text.withUTF8Bytes { bytes.append(contentsOf: $0) }
    }

    /// Bytes as they are.
    @inlinable package mutating func raw(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: utf8)
    }

    /// One byte as it is.
    @inlinable package mutating func raw(_ byte: UInt8) {
        bytes.append(byte)
    }

    @inlinable package mutating func key(_ key: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        raw(key)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    @inlinable package mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        field(name, value)
    }

    /// A string that is always there: taken as it is, without the copy that wrapping it in an
    /// optional makes.
    @inlinable package mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
        needsComma = true
    }

    @inlinable package mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        raw(String(value))
        needsComma = true
    }

    @inlinable package mutating func field(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        key(name)
        bytes.append(UInt8(ascii: "\""))
        RFC3339.withUTF8(value) { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    @inlinable package mutating func field(_ name: StaticString, _ value: Double?) {
        guard let value, value.isFinite else { return }
        key(name)
        number(value)
        needsComma = true
    }

    @inlinable package mutating func array<Element>(
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

    @inlinable package mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 1e15 {
            raw(String(Int64(value)))
        } else {
            raw(String(value))
        }
    }

    /// Any JSON value; with `sortedKeys`, objects in key order, for a canonical form.
    @inlinable package mutating func value(_ value: JSONValue, sortedKeys: Bool) {
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
    @inlinable package mutating func object(_ object: JSONObjectMembers) {
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

    @inlinable package mutating func string(_ value: String) {
        value.withUTF8Bytes { string($0) }
    }

    @inlinable package mutating func string(_ utf8: UnsafeBufferPointer<UInt8>) {
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

    @usableFromInline static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}

/// A growable byte buffer that is never shared: ``JSONWriter``'s storage. Noncopyable, so that it
/// needs neither copy-on-write checks nor reference counting.
package struct ByteStorage: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var count = 0

    @inlinable
    package init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    @inlinable package mutating func removeAll() { count = 0 }

    @inlinable @inline(__always)
    package mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inlinable @inline(__always)
    package mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    @inlinable package func withUnsafeBufferPointer<Result>(
        _ body: (UnsafeBufferPointer<UInt8>) throws -> Result
    ) rethrows -> Result {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    @usableFromInline mutating func grow(to needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
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
