import Foundation

/// A JSON object's members sorted by key, each key once (a repeated key keeps its last value, as a
/// dictionary built from the document would): the order canonical JSON writes them in, and read
/// without hashing every key.
public struct JSONObjectMembers: Sendable, Hashable {
    /// One key and its value.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue
    }

    /// Sorted by key (`String` order), keys unique.
    public private(set) var members: [Member]

    /// The members of an object in document order.
    init(_ pairs: ArraySlice<(key: String, value: JSONValue)>) {
        // The order is worked out on the stack: an array for it was one of each message's few
        // allocations left. Its elements are trivial, so assigning to the uninitialized memory is safe.
        members = withUnsafeTemporaryAllocation(of: (prefix: UInt64, index: Int).self, capacity: pairs.count) { order in
            Self.sorted(pairs, order: order)
        }
    }

    /// `pairs` sorted by key and then by position, so that of a repeated key the last comes last, and
    /// without the earlier ones. ASCII keys (all of Xelion's) are compared as bytes, which is `String`
    /// order for them and a fraction of its cost, and mostly by their first eight bytes alone, an
    /// integer; others as `String`s, whose order follows Unicode equivalence.
    private static func sorted(
        _ pairs: ArraySlice<(key: String, value: JSONValue)>, order: UnsafeMutableBufferPointer<(prefix: UInt64, index: Int)>
    ) -> [Member] {
        var order = order
        var ascii = true
        for (offset, index) in pairs.indices.enumerated() {
            let prefix = pairs[index].key.utf8.withContiguousStorageIfAvailable { bytes in
                JSONStringBytes.isASCII(bytes) ? KeyPrefix(bytes) : nil
            }
            guard let prefix = prefix ?? nil else {
                ascii = false
                break
            }
            order[offset] = (prefix.value, index)
        }
        if ascii {
            order.sort { left, right in
                if left.prefix != right.prefix { return left.prefix < right.prefix }
                let keys = compareBytes(pairs[left.index].key, pairs[right.index].key)
                return keys != 0 ? keys < 0 : left.index < right.index
            }
        } else {
            for (offset, index) in pairs.indices.enumerated() { order[offset] = (0, index) }
            order.sort { left, right in
                let keys = compare(pairs[left.index].key, pairs[right.index].key)
                return keys != 0 ? keys < 0 : left.index < right.index
            }
        }
        var members: [Member] = []
        members.reserveCapacity(order.count)
        var lastPrefix: UInt64?
        for (prefix, index) in order {
            let pair = pairs[index]
            // Keys with different prefixes differ; only equal ones are compared whole.
            defer { lastPrefix = prefix }
            if prefix == lastPrefix, let last = members.last, last.key == pair.key {
                members[members.count - 1].value = pair.value
            } else {
                members.append(Member(key: pair.key, value: pair.value))
            }
        }
        return members
    }

    /// The members of a dictionary, sorted.
    public init(_ object: [String: JSONValue]) {
        members = object.map { Member(key: $0.key, value: $0.value) }.sorted { $0.key < $1.key }
    }

    /// The members as a dictionary (for `JSONValue.object`).
    public var dictionary: [String: JSONValue] {
        Dictionary(uniqueKeysWithValues: members.lazy.map { ($0.key, $0.value) })
    }

    /// The value of `key`: in a few members by looking at each, in more by a binary search.
    public subscript(key: String) -> JSONValue? {
        // Equality of short strings is a comparison of their bits; ordering them is not as cheap.
        if members.count <= 8 { return members.first { $0.key == key }?.value }
        var low = 0
        var high = members.count
        while low < high {
            let middle = (low + high) / 2
            if members[middle].key < key {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return low < members.count && members[low].key == key ? members[low].value : nil
    }

    private static func compare(_ left: String, _ right: String) -> Int {
        left == right ? 0 : (left < right ? -1 : 1)
    }

    /// Byte order of the UTF-8 of two strings: negative, zero or positive.
    static func compareBytes(_ left: String, _ right: String) -> Int {
        let order = left.utf8.withContiguousStorageIfAvailable { left in
            right.utf8.withContiguousStorageIfAvailable { right in compareBytes(left, right) }
        }
        // Native strings are contiguous; a bridged one is compared the slow way.
        return (order ?? nil) ?? compare(left, right)
    }

    static func compareBytes(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Int {
        let common = min(left.count, right.count)
        if common > 0, let leftBase = left.baseAddress, let rightBase = right.baseAddress {
            let order = memcmp(leftBase, rightBase, common)
            if order != 0 { return Int(order) }
        }
        return left.count - right.count
    }
}
