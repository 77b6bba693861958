extension String {
    /// Calls `body` with the string's UTF-8, valid only inside `body`: read where it is for a native
    /// string, without the copy of the `String` that the mutating `withUTF8` needs, and from a
    /// contiguous copy otherwise (a bridged string).
    @inlinable
    package func withUTF8Bytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        return try copy.withUTF8(body)
    }
}
