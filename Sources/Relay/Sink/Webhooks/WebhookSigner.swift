import Crypto
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature` is `v1,` and the
/// base64 HMAC-SHA256 of `id.timestamp.body` under the secret; with two secrets (during a rotation)
/// both signatures, space-separated, so receivers on either secret accept the delivery.
public struct WebhookSigner: Sendable {
    /// Why a secret cannot be used; the secret itself never appears in the text.
    public struct InvalidSecret: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The secrets' bytes (`SymmetricKey` is not `Sendable`; one is made per signature).
    private let keys: [Data]

    /// - Parameter secrets: `whsec_` followed by base64, as Standard Webhooks issues them (the prefix
    ///   is optional); one, or two while rotating.
    public init(secrets: [String]) throws(InvalidSecret) {
        guard (1...2).contains(secrets.count) else { throw InvalidSecret(reason: "give one secret, or two while rotating") }
        var keys: [Data] = []
        for secret in secrets {
            let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
            // Standard Webhooks secrets may come without base64 padding.
            let padded = encoded + String(repeating: "=", count: (4 - encoded.count % 4) % 4)
            guard let bytes = Data(base64Encoded: padded), !bytes.isEmpty else {
                throw InvalidSecret(reason: "a webhook secret must be whsec_ followed by base64")
            }
            guard bytes.count >= 16 else { throw InvalidSecret(reason: "a webhook secret must hold at least 16 bytes") }
            keys.append(bytes)
        }
        self.keys = keys
    }

    /// The three Standard Webhooks headers for one attempt.
    public func headers(id: String, timestamp: Date, body: String) -> [(name: String, value: String)] {
        let seconds = String(Int64(timestamp.timeIntervalSince1970.rounded(.down)))
        let content = Data("\(id).\(seconds).\(body)".utf8)
        let signatures = keys.map { key in
            "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))).base64EncodedString()
        }
        return [
            ("webhook-id", id),
            ("webhook-timestamp", seconds),
            ("webhook-signature", signatures.joined(separator: " ")),
        ]
    }
}
