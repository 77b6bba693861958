import Crypto
import Foundation

/// Stable event ids: the same source event gives the same id on every repeat, reconnect and restart.
///
/// The id is also the deduplication key. It hashes the tenant, the provider and the parts that make
/// the source event itself: for hangups the type and the call and flow ids only (an attended transfer
/// repeats its consult hangup with a later `date`); for every other type also the whole payload, so
/// only a true repeat shares an id.
public enum EventIdentity {
    /// `evt_` and 32 hex digits (128 bits of SHA-256).
    public static func id(tenant: String, provider: String, parts: [String]) -> String {
        var hasher = SHA256()
        for part in [tenant, provider] + parts {
            hasher.update(data: Array(part.utf8))
            hasher.update(data: [0])  // a separator no part can contain, so ("ab","c") ≠ ("a","bc")
        }
        let digest = hasher.finalize()
        var text = "evt_"
        text.reserveCapacity(36)
        for byte in digest.prefix(16) {
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return text
    }

    private static let hexDigits: [Character] = Array("0123456789abcdef")
}
