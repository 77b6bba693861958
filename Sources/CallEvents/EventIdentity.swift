import Crypto
import Foundation

/// Stable event ids: the same source event gives the same id on every repeat, reconnect and restart.
///
/// The id is also the deduplication key. It hashes the tenant, the provider and the parts that make
/// the source event itself: for hangups the type and the call and flow ids only (an attended transfer
/// repeats its consult hangup with a later `date`); for every other type also the whole payload, so
/// only a true repeat shares an id.
///
/// `evt_` and the first 32 hex digits of SHA-256 over each part's UTF-8 followed by a zero byte (a
/// separator no part can contain, so ("ab","c") ≠ ("a","bc")). `EventIdentityTests` pins known ids:
/// changing the derivation would forward every event inside the dedupe window again, under new ids.
public enum EventIdentity {
    /// `evt_` and 32 hex digits (128 bits of SHA-256).
    public static func id(tenant: String, provider: String, parts: [String]) -> String {
        var builder = Builder(tenant: tenant, provider: provider)
        for part in parts { builder.append(part) }
        return builder.id
    }

    /// Hashes the parts one by one, without joining them first.
    public struct Builder {
        private var hasher = SHA256()

        public init(tenant: String, provider: String) {
            append(tenant)
            append(provider)
        }

        public mutating func append(_ part: String) {
            var part = part
            part.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
            separate()
        }

        /// A part given as its UTF-8 bytes.
        public mutating func append(utf8 part: [UInt8]) {
            part.withUnsafeBufferPointer { append(utf8: $0) }
        }

        /// A part given as its UTF-8 bytes, read only during the call.
        public mutating func append(utf8 part: UnsafeBufferPointer<UInt8>) {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(part))
            separate()
        }

        private mutating func separate() {
            withUnsafeBytes(of: UInt8(0)) { hasher.update(bufferPointer: $0) }
        }

        public var id: String {
            let digest = hasher.finalize()
            return digest.withUnsafeBytes { bytes in
                String(unsafeUninitializedCapacity: 36) { text in
                    for (index, byte) in "evt_".utf8.enumerated() { text[index] = byte }
                    for index in 0..<16 {
                        text[4 + 2 * index] = hexDigits[Int(bytes[index] >> 4)]
                        text[5 + 2 * index] = hexDigits[Int(bytes[index] & 0x0F)]
                    }
                    return 36
                }
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
