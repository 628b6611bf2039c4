import Foundation
import RPCCore

/// holdingsd's call guard: authenticates every call (bearer token, else client
/// certificate), checks the method's requirement, and writes the audit log.
///
/// - Missing or invalid credentials, an untrusted client certificate: UNAUTHENTICATED.
/// - Valid but without the method's scope: PERMISSION_DENIED naming the scope.
/// - A method without a declared requirement: PERMISSION_DENIED (fail closed).
/// In insecure development mode every call runs as an `admin` principal named
/// `insecure-dev`, and is still audited.
public final class CallAuthenticator: CallGuard {
    public enum Mode: Sendable {
        case secured(tokens: AccessTokenVerifier?, certificates: ClientCertificatePrincipals?)
        case insecureDevelopment
    }

    private let mode: Mode
    private let requirements: [String: MethodRequirement]
    private let audit: AuditLog

    public init(mode: Mode, requirements: [String: MethodRequirement] = MethodRequirements.byPath, audit: AuditLog = AuditLog()) {
        self.mode = mode
        self.requirements = requirements
        self.audit = audit
    }

    public static let developmentPrincipal = Principal(subject: "insecure-dev", scopes: [Principal.adminScope], proof: .insecureDevelopment)

    public func admit(_ context: ServerContext) async throws(RPCError) -> Principal? {
        let path = context.method.path
        do throws(RPCError) {
            guard let requirement = requirements[path] else {
                throw RPCError(.permissionDenied, "\(path) has no declared access requirement and is refused")
            }
            if requirement == .open { return nil }
            let principal = try await authenticate(context)
            switch requirement {
            case .open:
                break
            case .scope(let scope):
                guard principal.has(scope) else { throw RPCError(.permissionDenied, "\(path) requires scope \(scope)") }
            case .clientRead, .clientWrite:
                // The handler checks the grant for each client the request names (it knows
                // which), so the denial is audited with the client and the request id.
                break
            }
            return principal
        } catch {
            context.audit.noteDenied()
            audit.record(principal: nil, method: path, clients: [], requestId: "", outcome: "denied", status: error, peer: context.peer)
            throw error
        }
    }

    public func finished(_ context: ServerContext, status: RPCError) {
        guard !context.audit.denied else { return }
        let denied = status.code == .permissionDenied || status.code == .unauthenticated || context.audit.hidden
        guard denied || MethodRequirements.writes.contains(context.method.path) else { return }
        let outcome = denied ? (context.audit.hidden ? "denied (answered as not found)" : "denied") : (status.code == .ok ? "ok" : "failed")
        audit.record(
            principal: context.principal, method: context.method.path, clients: context.audit.clients,
            requestId: context.audit.requestId, outcome: outcome, status: status, peer: context.peer)
    }

    private func authenticate(_ context: ServerContext) async throws(RPCError) -> Principal {
        switch mode {
        case .insecureDevelopment:
            return Self.developmentPrincipal
        case .secured(let tokens, let certificates):
            if case .untrusted(let reason)? = context.peerCertificate {
                throw RPCError(.unauthenticated, "the client certificate is not trusted: \(reason)")
            }
            let authorization = context.metadata["authorization"]
            if !authorization.isEmpty {
                guard authorization.count == 1, case .string(let value) = authorization[0] else {
                    throw RPCError(.unauthenticated, "send exactly one authorization header")
                }
                guard let token = Self.bearerToken(value) else {
                    throw RPCError(.unauthenticated, "the authorization header is not 'Bearer <token>'")
                }
                guard let tokens else { throw RPCError(.unauthenticated, "this server accepts no bearer tokens (client certificates only)") }
                return try await tokens.principal(token: token)
            }
            if case .verified(let der)? = context.peerCertificate, let certificates {
                return try certificates.principal(der: der)
            }
            throw RPCError(.unauthenticated, "credentials required: an 'authorization: Bearer <JWT>' header or a client certificate")
        }
    }
}

extension CallAuthenticator {
    /// The token of an `authorization` value `Bearer <token>` (scheme case-insensitive,
    /// spaces around the token ignored); nil for another scheme or an empty token. Works on
    /// UTF-8 bytes: it runs on every call.
    public static func bearerToken(_ value: String) -> String? {
        let bytes = value.utf8
        let scheme = "bearer ".utf8
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }) else { return nil }
        var start = bytes.index(bytes.startIndex, offsetBy: scheme.count)
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 { start = bytes.index(after: start) }
        while start < end, bytes[bytes.index(before: end)] == 0x20 { end = bytes.index(before: end) }
        guard start < end else { return nil }
        return String(value[start..<end])
    }
}

extension ServerContext {
    /// Checks that the caller may `access` `client`'s data; PERMISSION_DENIED naming the
    /// scope otherwise (whether or not the client exists). Records the client and request
    /// id for the audit log.
    public func authorize(_ access: Principal.Access, client: String, requestId: String = "") throws(RPCError) {
        audit.noteClient(String(client.prefix(128)))
        if !requestId.isEmpty { audit.noteRequestId(String(requestId.prefix(128))) }
        guard let principal, principal.may(access, client: client) else {
            throw RPCError(.permissionDenied, "requires scope \(Principal.scope(access, client: String(client.prefix(128))))")
        }
    }

    /// Whether the caller may `access` `client`'s data (for filtering listings).
    public func may(_ access: Principal.Access, client: String) -> Bool {
        principal?.may(access, client: client) ?? false
    }

    /// Checks a named scope (`prices:publish`, ...); PERMISSION_DENIED naming it otherwise.
    public func requireScope(_ scope: String, requestId: String = "") throws(RPCError) {
        if !requestId.isEmpty { audit.noteRequestId(String(requestId.prefix(128))) }
        guard let principal, principal.has(scope) else { throw RPCError(.permissionDenied, "requires scope \(scope)") }
    }
}
