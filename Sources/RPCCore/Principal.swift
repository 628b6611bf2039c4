import Synchronization

/// Who is calling: an authenticated identity and the scopes it was granted.
///
/// Scopes (documented in proto/ultracore/holdings/v1/common.proto and the README):
/// `clients:read:<client id>`, `clients:write:<client id>` (write includes read),
/// `clients:read:*` and `clients:write:*` for every client, `prices:publish`,
/// `corporate-actions:apply`, and `admin` (everything, every client).
public struct Principal: Sendable, Equatable, CustomStringConvertible {
    /// How the identity was proven.
    public enum Proof: String, Sendable {
        /// A bearer token (JWT) in the `authorization` header.
        case token
        /// A client certificate verified against the configured CA.
        case certificate
        /// `--insecure-dev`: nothing was proven.
        case insecureDevelopment = "insecure-dev"
    }

    /// Token `sub`, or the certificate's SAN URI or CN.
    public let subject: String
    public let scopes: Set<String>
    public let proof: Proof

    public init(subject: String, scopes: Set<String>, proof: Proof) {
        self.subject = subject
        self.scopes = scopes
        self.proof = proof
    }

    public var description: String { "\(proof.rawValue):\(subject)" }

    /// A subject recorded in events and logs: 1 to 256 bytes, no control characters.
    public static func isValidSubject(_ subject: String) -> Bool {
        !subject.isEmpty && subject.utf8.count <= 256 && subject.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    public static let adminScope = "admin"
    public static let pricesPublishScope = "prices:publish"
    public static let corporateActionsScope = "corporate-actions:apply"

    /// What a principal may do to one client's data.
    public enum Access: String, Sendable { case read, write }

    /// The scope that grants `access` to `client`.
    public static func scope(_ access: Access, client: String) -> String { "clients:\(access.rawValue):\(client)" }

    public var isAdmin: Bool { scopes.contains(Self.adminScope) }

    public func has(_ scope: String) -> Bool { isAdmin || scopes.contains(scope) }

    /// Whether the principal may `access` `client`'s data (write includes read).
    public func may(_ access: Access, client: String) -> Bool {
        if isAdmin || scopes.contains("clients:write:*") || scopes.contains(Self.scope(.write, client: client)) { return true }
        guard access == .read else { return false }
        return scopes.contains("clients:read:*") || scopes.contains(Self.scope(.read, client: client))
    }

    /// The clients named in the principal's grants that allow `access` (wildcards and
    /// admin not included: see ``mayAll(_:)``).
    public func namedClients(_ access: Access) -> Set<String> {
        var clients = Set<String>()
        for scope in scopes {
            for prefix in access == .read ? ["clients:read:", "clients:write:"] : ["clients:write:"] where scope.hasPrefix(prefix) {
                let client = String(scope.dropFirst(prefix.count))
                if client != "*" && Self.isValidSubject(client) { clients.insert(client) }
            }
        }
        return clients
    }

    /// Whether the principal may `access` every client (a wildcard or admin).
    public func mayAll(_ access: Access) -> Bool {
        isAdmin || scopes.contains("clients:write:*") || (access == .read && scopes.contains("clients:read:*"))
    }

    /// The principal of the call running now (its `CallScope`), for the event envelope's
    /// actor; nil outside calls (the rebalancing scheduler) and for open methods.
    public static var current: Principal? { CallScope.current?.principal }
}

/// Checks a call before its handler runs, and hears how it ended (authentication,
/// method-level authorization, audit). Installed on the server.
public protocol CallGuard: Sendable {
    /// The principal the handler runs as; nil for methods open to anyone (health).
    /// Throws UNAUTHENTICATED or PERMISSION_DENIED.
    func admit(_ context: ServerContext) async throws(RPCError) -> Principal?
    /// The call ended with `status` (OK included).
    func finished(_ context: ServerContext, status: RPCError)
}

/// What a handler learned about the call for the audit trail: the client it acted on and
/// the request id it carried. Set by the handler's authorization checks.
public final class CallAudit: Sendable {
    private struct State {
        var clients: [String] = []
        var requestId = ""
        var denied = false
        var hidden = false
    }
    private let state = Mutex(State())

    public init() {}

    public func noteClient(_ client: String) {
        state.withLock { if !$0.clients.contains(client) && $0.clients.count < 16 { $0.clients.append(client) } }
    }
    public func noteRequestId(_ id: String) { state.withLock { $0.requestId = id } }
    /// The call guard refused the call before its handler ran (and logged it).
    public func noteDenied() { state.withLock { $0.denied = true } }

    /// The call named a resource of a client the caller may not read, and was answered as
    /// if it did not exist (audited as denied).
    public func noteHidden() { state.withLock { $0.hidden = true } }

    public var clients: [String] { state.withLock { $0.clients } }
    public var hidden: Bool { state.withLock { $0.hidden } }
    public var requestId: String { state.withLock { $0.requestId } }
    public var denied: Bool { state.withLock { $0.denied } }
}

/// The call running now, bound by the server around each handler (one task-local per call):
/// who calls (`Principal.current`, the event envelope's actor), the method, and what the
/// handler learned for the audit trail. A log line written while the call runs, on its task
/// or a child task, names the method, and the clients and the request id once known.
public struct CallScope: Sendable {
    public let method: String
    public let principal: Principal?
    public let audit: CallAudit

    public init(method: String, principal: Principal?, audit: CallAudit) {
        self.method = method
        self.principal = principal
        self.audit = audit
    }

    @TaskLocal public static var current: CallScope?
}

/// The certificate a TLS client presented.
public enum PeerCertificate: Sendable, Equatable {
    /// Verified against the configured CA; the leaf certificate, DER.
    case verified([UInt8])
    /// Presented but not trusted (another CA, expired, ...): why.
    case untrusted(String)
}

/// Watches every call the server routes to a handler (metrics): when it starts and how it
/// ended. Called on the call's task; must not block.
public protocol CallObserver: Sendable {
    func started(_ method: MethodDescriptor)
    func finished(_ method: MethodDescriptor, status: StatusCode, duration: Duration)
}
