/// A fixed set of names, found from their UTF-8 by one hash and (almost always) one comparison:
/// cheaper than a binary search, or hashing a `String` for a dictionary. The parser uses it to give
/// the keys it knows their one `String` instead of making a new one for each message (a key longer
/// than fifteen bytes is an allocation of its own), and the event decoder to tell which field a key is.
package struct KeyTable: Sendable {
    private struct Entry: Sendable {
        var name: String
        var bytes: [UInt8]
        var ends: Ends
        /// The name's position in the list the table was made from.
        var index: Int
    }

    /// A name's length and its first and last eight bytes (zero-padded): equal ends settle whether
    /// names of up to sixteen bytes are equal, and mostly those of more.
    private struct Ends: Equatable {
        var count: Int
        var first: UInt64
        var last: UInt64

        @inline(__always)
        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            count = bytes.count
            first = KeyPrefix(bytes).value
            last = count > 8 ? KeyPrefix(UnsafeBufferPointer(rebasing: bytes[(count - 8)...])).value : 0
        }

        /// Where the table looks first for a name with these ends.
        @inline(__always)
        func slot(shift: UInt64) -> Int {
            let mixed = (first ^ (last &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(count)) &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: mixed >> shift)
        }
    }

    /// Open addressing, at most a quarter full, so that a miss usually ends at the first empty slot.
    private let slots: [Entry?]
    private let shift: UInt64

    /// The table of `names`; a repeated name is found at its first position.
    package init(_ names: [String]) {
        var bits: UInt64 = 4
        while 1 << bits < 4 * names.count { bits += 1 }
        let shift = 64 - bits
        self.shift = shift
        var slots = [Entry?](repeating: nil, count: 1 << bits)
        for (index, name) in names.enumerated() {
            let bytes = Array(name.utf8)
            let ends = bytes.withUnsafeBufferPointer { Ends($0) }
            var slot = ends.slot(shift: shift)
            while let entry = slots[slot], entry.bytes != bytes { slot = (slot + 1) & (slots.count - 1) }
            if slots[slot] == nil { slots[slot] = Entry(name: name, bytes: bytes, ends: ends, index: index) }
        }
        self.slots = slots
    }

    /// The position of `name` in the list the table was made from, and the name as a `String`.
    package func find(_ name: UnsafeBufferPointer<UInt8>) -> (index: Int, name: String)? {
        let ends = Ends(name)
        var slot = ends.slot(shift: shift)
        while let entry = slots[slot] {
            if entry.ends == ends,
                ends.count <= 16 || entry.bytes.withUnsafeBufferPointer({ JSONObjectMembers.compareBytes($0, name) == 0 })
            {
                return (entry.index, entry.name)
            }
            slot = (slot + 1) & (slots.count - 1)
        }
        return nil
    }

    /// The position of `name` in the list the table was made from.
    package func index(of name: String) -> Int? {
        name.withUTF8Bytes { find($0)?.index }
    }
}
