import Foundation
import RPCCore
import X509

/// Principals for client certificates: the TLS handshake verified the chain against the
/// configured CA; here the leaf's identity (its first SAN URI, else its subject CN) is
/// mapped to scopes by the principals file.
public struct ClientCertificatePrincipals: Sendable {
    /// Scopes per certificate identity.
    public let scopes: [String: Set<String>]

    public init(scopes: [String: Set<String>]) {
        self.scopes = scopes
    }

    /// Reads a JSON object of identity → space-separated scopes, e.g.
    /// `{"spiffe://bank.example/advisor-desk": "clients:read:*"}`.
    public init(file path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: String] else {
            throw SecurityConfigurationError("\(path) is not a JSON object of identity → space-separated scopes")
        }
        scopes = object.mapValues { Set($0.split(separator: " ").map(String.init)) }
    }

    /// The identity of a DER certificate: its first SAN URI, else its subject CN.
    public static func identity(of der: [UInt8]) throws(RPCError) -> String {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw RPCError(.unauthenticated, "the client certificate cannot be read")
        }
        if let names = try? certificate.extensions.subjectAlternativeNames {
            for name in names {
                if case .uniformResourceIdentifier(let uri) = name, !uri.isEmpty { return uri }
            }
        }
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                let name = String(describing: attribute.value)
                if !name.isEmpty { return name }
            }
        }
        throw RPCError(.unauthenticated, "the client certificate has neither a SAN URI nor a subject CN")
    }

    /// The principal of a verified certificate; one the file does not name has no scopes.
    public func principal(der: [UInt8]) throws(RPCError) -> Principal {
        let identity = try Self.identity(of: der)
        guard Principal.isValidSubject(identity) else {
            throw RPCError(.unauthenticated, "the client certificate's identity must be 1 to 256 bytes without control characters")
        }
        return Principal(subject: identity, scopes: scopes[identity] ?? [], proof: .certificate)
    }
}
