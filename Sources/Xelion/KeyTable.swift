/// Names and what they stand for, found by a binary search over the names' UTF-8, comparing their
/// first eight bytes as one integer before the rest: cheaper than hashing the name for a dictionary,
/// or comparing it with each name as a `String`.
struct KeyTable<Value: Sendable>: Sendable {
    private let entries: [(prefix: UInt64, name: [UInt8], value: Value)]

    init(_ entries: [(name: String, value: Value)]) {
        self.entries = entries.map { entry in
            let name = Array(entry.name.utf8)
            return (name.withUnsafeBufferPointer { KeyPrefix($0).value }, name, entry.value)
        }
        .sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    subscript(name: UnsafeBufferPointer<UInt8>) -> Value? {
        let prefix = KeyPrefix(name).value
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            let entry = entries[middle]
            let order =
                entry.prefix != prefix
                ? (entry.prefix < prefix ? -1 : 1)
                : entry.name.withUnsafeBufferPointer { JSONObjectMembers.compareBytes($0, name) }
            if order == 0 { return entry.value }
            if order < 0 {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return nil
    }

    subscript(name: String) -> Value? {
        name.withUTF8Bytes { self[$0] }
    }
}
