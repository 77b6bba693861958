/// The first eight bytes of a key as a big-endian integer, zero-padded: two keys' prefixes compare as
/// their bytes do, and settle most comparisons of different keys without reading further.
package struct KeyPrefix {
    package var value: UInt64

    @inline(__always)
    package init(_ bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count >= 8, let base = bytes.baseAddress {
            value = UInt64(bigEndian: UnsafeRawPointer(base).loadUnaligned(as: UInt64.self))
            return
        }
        var value: UInt64 = 0
        for index in 0..<bytes.count { value |= UInt64(bytes[index]) << (56 - 8 * index) }
        self.value = value
    }
}
