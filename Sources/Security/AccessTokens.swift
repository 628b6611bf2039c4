import Foundation
import JWTKit
import RPCCore
import Synchronization

/// The claims of an access token. `sub`, `exp`, `iss` and `aud` are required, `nbf` is
/// checked when present; `scope` is the OAuth 2 space-separated scope list.
struct AccessTokenClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim
    var aud: AudienceClaim
    var scope: String?

    /// Time and audience are checked by ``AccessTokenVerifier`` with its clock skew.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// How access tokens are verified: HS256 with a shared secret (development), RS256 and
/// ES256 with the public keys of a JWKS file (each key with a `kid`).
public struct AccessTokenSettings: Sendable {
    /// HMAC-SHA-256 secret; nil refuses HS256 tokens.
    public var hmacSecret: [UInt8]?
    /// A JSON Web Key Set (RFC 7517) with RSA and/or EC P-256 public keys; nil refuses
    /// RS256 and ES256 tokens.
    public var jwksJSON: String?
    /// Required `iss`.
    public var issuer = "ultracore-holdings"
    /// Required among `aud`.
    public var audience = "ultracore-holdings"
    /// Clock skew allowed on `exp` and `nbf`.
    public var clockSkew: Duration = .seconds(30)

    public init() {}

    public var isConfigured: Bool { hmacSecret != nil || jwksJSON != nil }
}

/// Verifies bearer tokens with jwt-kit (parsing, signatures) and maps them to principals.
/// A verified token is remembered until it expires (bounded), so a client sending the
/// same token on every call pays for its signature once.
public final class AccessTokenVerifier: Sendable {
    private let hmacKeys: JWTKeyCollection?
    private let jwksKeys: JWTKeyCollection?
    private let settings: AccessTokenSettings
    private let parser = DefaultJWTParser()
    private struct Verified { let principal: Principal; let notBefore: Date?; let expires: Date }
    private let cache = Mutex<[String: Verified]>([:])
    /// At most this many verified tokens of at most `cachedTokenLength` bytes are
    /// remembered (under 25 MiB); longer tokens are verified on every call.
    private static let cacheLimit = 10_000
    private static let cachedTokenLength = 2_048

    public init(settings: AccessTokenSettings) async throws {
        self.settings = settings
        if let secret = settings.hmacSecret {
            guard secret.count >= 32 else { throw SecurityConfigurationError("the HS256 secret must be at least 32 bytes, not \(secret.count)") }
            hmacKeys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        } else {
            hmacKeys = nil
        }
        if let json = settings.jwksJSON {
            do {
                jwksKeys = try await JWTKeyCollection().add(jwksJSON: json)
            } catch {
                throw SecurityConfigurationError("the JWKS file is not a key set jwt-kit can use: \(error)")
            }
        } else {
            jwksKeys = nil
        }
    }

    /// Builds a verifier from synchronous code (process start-up), waiting for the key
    /// collections to load.
    public static func loading(settings: AccessTokenSettings) throws -> AccessTokenVerifier {
        let outcome = Mutex<Result<AccessTokenVerifier, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                let verifier = try await AccessTokenVerifier(settings: settings)
                outcome.withLock { $0 = .success(verifier) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw SecurityConfigurationError("the token keys did not load") }
        return try result.get()
    }

    /// The principal of a valid token; UNAUTHENTICATED naming what is wrong otherwise.
    public func principal(token: String, now: Date = Date()) async throws(RPCError) -> Principal {
        if let hit = cache.withLock({ $0[token] }) {
            try check(notBefore: hit.notBefore, expires: hit.expires, now: now)
            return hit.principal
        }
        guard token.utf8.count <= 16_384 else { throw RPCError(.unauthenticated, "the bearer token is longer than 16384 bytes") }
        let header: JWTHeader
        do {
            header = try parser.parse([UInt8](token.utf8), as: AccessTokenClaims.self).header
        } catch {
            throw RPCError(.unauthenticated, "the bearer token is not a JWT with the required claims (sub, exp, iss, aud): \(Self.reason(error))")
        }
        let algorithm = header.alg ?? ""
        let keys: JWTKeyCollection?
        switch algorithm {
        case "HS256": keys = hmacKeys
        case "RS256", "ES256": keys = jwksKeys
        default: throw RPCError(.unauthenticated, "token algorithm '\(algorithm.prefix(32))' is not accepted (HS256, RS256, ES256)")
        }
        guard let keys else {
            throw RPCError(.unauthenticated, "\(algorithm) tokens are not accepted by this server (no key configured)")
        }
        let claims: AccessTokenClaims
        do {
            if algorithm != "HS256" {
                // A JWKS key signs with its own algorithm only: an RS256 header on an EC key fails here.
                let kid = header.kid.flatMap { JWKIdentifier(string: $0) }
                guard let kid else { throw RPCError(.unauthenticated, "an \(algorithm) token must name its key (kid)") }
                let key = try await keys.getKey(for: kid, alg: algorithm)
                guard key.name == algorithm else {
                    throw RPCError(.unauthenticated, "key \(kid.string.prefix(64)) does not sign \(algorithm)")
                }
            }
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError(.unauthenticated, "the bearer token's signature does not verify: \(Self.reason(error))")
        }
        guard claims.iss.value == settings.issuer else {
            throw RPCError(.unauthenticated, "the token's issuer '\(claims.iss.value.prefix(128))' is not '\(settings.issuer)'")
        }
        guard claims.aud.value.contains(settings.audience) else {
            throw RPCError(.unauthenticated, "the token's audience does not include '\(settings.audience)'")
        }
        let subject = claims.sub.value
        guard Principal.isValidSubject(subject) else {
            throw RPCError(.unauthenticated, "the token's subject must be 1 to 256 bytes without control characters")
        }
        try check(notBefore: claims.nbf?.value, expires: claims.exp.value, now: now)
        let scopes = Set((claims.scope ?? "").split(separator: " ").map(String.init))
        let principal = Principal(subject: subject, scopes: scopes, proof: .token)
        if token.utf8.count <= Self.cachedTokenLength {
            cache.withLock { cache in
                if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[token] = Verified(principal: principal, notBefore: claims.nbf?.value, expires: claims.exp.value)
            }
        }
        return principal
    }

    private func check(notBefore: Date?, expires: Date, now: Date) throws(RPCError) {
        let skew = Double(settings.clockSkew.components.seconds)
        guard now.timeIntervalSince(expires) < skew else {
            throw RPCError(.unauthenticated, "the token expired at \(Int64(expires.timeIntervalSince1970)) (Unix seconds)")
        }
        if let notBefore, notBefore.timeIntervalSince(now) > skew {
            throw RPCError(.unauthenticated, "the token is not valid before \(Int64(notBefore.timeIntervalSince1970)) (Unix seconds)")
        }
    }

    private static func reason(_ error: any Error) -> String {
        String(String(describing: error).prefix(200))
    }
}

public struct SecurityConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// HS256 access tokens for development and tests (`holdings-token`, `deploy/run.sh`):
/// signed with the server's HS256 secret, with the claims ``AccessTokenVerifier`` checks.
public enum DevelopmentTokens {
    public static func issue(
        secret: [UInt8], subject: String, scopes: [String], lifetime: Duration,
        issuer: String = AccessTokenSettings().issuer, audience: String = AccessTokenSettings().audience
    ) async throws -> String {
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        let now = Date()
        let claims = AccessTokenClaims(
            sub: SubjectClaim(value: subject), exp: ExpirationClaim(value: now.addingTimeInterval(Double(lifetime.components.seconds))),
            nbf: NotBeforeClaim(value: now.addingTimeInterval(-1)), iss: IssuerClaim(value: issuer), aud: AudienceClaim(value: [audience]),
            scope: scopes.joined(separator: " "))
        return try await keys.sign(claims)
    }
}
