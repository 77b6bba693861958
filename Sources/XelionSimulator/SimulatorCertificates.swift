import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// A throwaway certificate authority made at start, and a certificate for `localhost` and 127.0.0.1
/// signed by it: the simulator serves real TLS, and a client trusts it through the CA file alone.
/// Other names and addresses make a server whose certificate is for someone else.
public struct SimulatorCertificates: Sendable {
    /// The CA's certificate, to trust.
    public let caPEM: String
    /// A server context presenting the leaf certificate.
    public let context: NIOSSLContext

    /// - Parameters:
    ///   - names: the DNS names of the leaf certificate.
    ///   - addresses: its IPv4 or IPv6 addresses, as bytes.
    ///   - usages: its extended key usages, marked critical.
    public init(
        names: [String] = ["localhost"], addresses: [[UInt8]] = [[127, 0, 0, 1]],
        usages: [ExtendedKeyUsage.Usage] = [.serverAuth]
    ) throws {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("callrelay simulator CA") }
        let ca = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(30 * 86400),
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(caKey)
        )
        let leafKey = P256.Signing.PrivateKey()
        let leaf = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(leafKey.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(30 * 86400),
            issuer: caName,
            subject: try DistinguishedName { CommonName(names.first ?? "callrelay simulator") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                Critical(try ExtendedKeyUsage(usages))
                SubjectAlternativeNames(
                    names.map { .dnsName($0) } + addresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) })
            },
            issuerPrivateKey: .init(caKey)
        )
        caPEM = try ca.serializeAsPEM().pemString
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(try leaf.serializeAsPEM().pemString.utf8))
        let key = try NIOSSLPrivateKey(bytes: Array(leafKey.pemRepresentation.utf8), format: .pem)
        context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        )
    }
}
