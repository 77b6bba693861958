import CallRelayCore
import Crypto
import Foundation

/// Stable event ids: the same source event gives the same id on every repeat, reconnect and restart.
///
/// The id is also the deduplication key. It hashes the tenant, the provider and the parts that make
/// the source event itself: for hangups the type and the call and flow ids only (an attended transfer
/// repeats its consult hangup with a later `date`); for every other type also the whole payload, so
/// only a true repeat shares an id.
///
/// `evt_` and the first 32 hex digits of SHA-256 over each part's UTF-8 followed by a zero byte, so
/// ("ab","c") ≠ ("a","bc"). A part may hold a zero byte itself (`\u0000` is legal in a JSON string):
/// it is written as 0x00 0xFF, and 0xFF never occurs in UTF-8, so a separator and an escaped zero can
/// never be taken for each other, and a part without one is hashed exactly as it always was.
/// `EventIdentityTests` pins known ids: changing the derivation would forward every event inside
/// the dedupe window again, under new ids.
public enum EventIdentity {
    /// `evt_` and 32 hex digits (128 bits of SHA-256).
    public static func id(tenant: String, provider: String, parts: [String]) -> String {
        var builder = Builder(tenant: tenant, provider: provider)
        for part in parts { builder.append(part) }
        return builder.id
    }

    /// Gathers the parts in one buffer and hashes them once: each `SHA256.update` call costs about
    /// as much as hashing a short part, and an event has a dozen parts.
    public struct Builder: ~Copyable {
        private var writer = JSONWriter()

        public init(tenant: String, provider: String) {
            append(tenant)
            append(provider)
        }

        public mutating func append(_ part: String) {
            var part = part
            part.withUTF8 { append(utf8: $0) }
        }

        /// A part given as its UTF-8 bytes.
        public mutating func append(utf8 part: [UInt8]) {
            part.withUnsafeBufferPointer { append(utf8: $0) }
        }

        /// A part given as its UTF-8 bytes, read only during the call.
        public mutating func append(utf8 part: UnsafeBufferPointer<UInt8>) {
            if part.contains(0) {
                for byte in part {
                    writer.raw(byte)
                    if byte == 0 { writer.raw(UInt8(0xFF)) }
                }
            } else {
                writer.raw(part)
            }
            separate()
        }

        /// A part that is an object's canonical JSON (``JSONObjectMembers/canonicalUTF8``), written
        /// straight into the buffer.
        public mutating func append(canonical object: JSONObjectMembers) {
            writer.object(object)
            separate()
        }

        private mutating func separate() {
            writer.raw(UInt8(0))
        }

        public var id: String {
            let digest = writer.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
            return digest.withUnsafeBytes { bytes in
                String(unsafeUninitializedCapacity: 36) { text in
                    text[0] = UInt8(ascii: "e")
                    text[1] = UInt8(ascii: "v")
                    text[2] = UInt8(ascii: "t")
                    text[3] = UInt8(ascii: "_")
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
