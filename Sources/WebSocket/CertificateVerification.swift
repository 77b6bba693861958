import Dispatch
import NIOSSL
import SwiftASN1
import X509

/// Verifies a server's certificate chain and its name inside the TLS handshake, so that a
/// certificate for another host (or another IP address) fails the handshake itself: the client
/// aborts with an alert before the handshake completes, and not one byte of the application's goes
/// to that server. swift-nio-ssl checks the name only after the handshake has completed; its custom
/// verification callback runs inside it, and replaces BoringSSL's check of the chain, which
/// swift-certificates makes here instead (RFC 5280, and RFC 6125 for the name).
struct CertificateVerification: Sendable {
    /// The system's trust roots and those of the connection's CA file.
    let roots: CertificateStore

    /// Whether `presented` (leaf first) chains to a trusted root and names `host`, a host name or an
    /// IP address literal. `reason` is told why not.
    func verify(_ presented: [NIOSSLCertificate], host: String, hostIsIPAddress: Bool) async -> (Bool, String?) {
        let certificates: [Certificate]
        do {
            certificates = try presented.map { try Certificate(derEncoded: $0.toDERBytes()) }
        } catch {
            return (false, "the server's certificate cannot be read: \(error)")
        }
        guard let leaf = certificates.first else { return (false, "the server presented no certificate") }
        var verifier = Verifier(rootCertificates: roots) {
            RFC5280Policy()
            ServerIdentityPolicy(serverHostname: hostIsIPAddress ? nil : host, serverIP: hostIsIPAddress ? host : nil)
            ServerAuthenticationPolicy()
        }
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(certificates.dropFirst())) {
        case .validCertificate:
            return (true, nil)
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }
            return (
                false,
                "the server's certificate is not valid for \(host): "
                    + (reasons.isEmpty ? "no chain to a trusted root" : Set(reasons).sorted().joined(separator: "; "))
            )
        }
    }
}

/// RFC 5280 §4.2.1.12 for a TLS server: a leaf that limits its extended key usage must allow server
/// authentication. Without a policy that handles the extension, a leaf marking it critical (common
/// in test CAs) would be refused for an unhandled critical extension.
struct ServerAuthenticationPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.extendedKeyUsage]

    mutating func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        let usage: ExtendedKeyUsage?
        do {
            usage = try chain.leaf.extensions.extendedKeyUsage
        } catch {
            return .failsToMeetPolicy(reason: "its extended key usage cannot be read")
        }
        guard let usage, !usage.contains(.serverAuth), !usage.contains(.any) else { return .meetsPolicy }
        return .failsToMeetPolicy(reason: "its extended key usage does not allow a TLS server")
    }
}

/// Where certificate checks run: a serial queue of their own, not the cooperative pool, so that a
/// pool kept busy by the application can never hold up a TLS handshake, whose event loop waits for
/// the answer.
final class VerificationExecutor: TaskExecutor {
    static let shared = VerificationExecutor()
    private let queue = DispatchQueue(label: "callrelay.tls-verification")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
