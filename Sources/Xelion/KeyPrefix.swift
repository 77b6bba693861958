/// The first eight bytes of a key as a big-endian integer, zero-padded: two keys' prefixes compare as
/// their bytes do, and settle most comparisons of different keys without reading further.
struct KeyPrefix {
    var value: UInt64

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        var value: UInt64 = 0
        for index in 0..<min(bytes.count, 8) { value |= UInt64(bytes[index]) << (56 - 8 * index) }
        self.value = value
    }
}
