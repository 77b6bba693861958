/// What JSON strings' bytes need, eight at a time: the parser and the writer skip over the bytes of
/// a string that have no quote, backslash or control character in them, which is most of them.
package enum JSONStringBytes {
    /// Whether any of eight bytes is a control character, a quote or a backslash, without looking at
    /// each: `(x - 0x01…) & ~x & 0x80…` is non-zero exactly when some byte of `x` is zero, and
    /// likewise below 0x20 with `0x20…` subtracted.
    @inline(__always)
    package static func needsEscaping(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        let quotes = (quote &- ones) & ~quote
        let backslashes = (backslash &- ones) & ~backslash
        return (control | quotes | backslashes) & high != 0
    }

    /// The index of the first byte from `index` on that is a control character, a quote or a
    /// backslash, or `bytes.count`.
    @inline(__always)
    package static func firstSpecial(in bytes: UnsafeBufferPointer<UInt8>, from index: Int) -> Int {
        guard let base = bytes.baseAddress else { return bytes.count }
        var index = index
        while index + 8 <= bytes.count, !needsEscaping(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
            index += 8
        }
        while index < bytes.count {
            let byte = base[index]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C { return index }
            index += 1
        }
        return index
    }

    /// Whether every byte is below 0x80, eight at a time.
    @inline(__always)
    package static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        var high: UInt64 = 0
        while index + 8 <= bytes.count {
            high |= UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
            index += 8
        }
        while index < bytes.count {
            high |= UInt64(base[index])
            index += 1
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}
