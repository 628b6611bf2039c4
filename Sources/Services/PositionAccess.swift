import Domain
import RPCCore
import Security
import Store

/// Authorization of requests that name a position instead of a client: the position's
/// client decides. A position the caller may not read is answered exactly like one that
/// does not exist (NOT_FOUND, the same message), so ids of other clients reveal nothing;
/// a position it may read but not change is PERMISSION_DENIED naming the scope.
extension WriteModel {
    func authorizedPosition(_ id: String, _ access: Principal.Access, _ context: ServerContext, requestId: String = "") throws -> PositionState {
        guard !id.isEmpty else { throw DomainError.invalidArgument(field: "position_id", reason: "is required") }
        let found = position(id)
        guard let position = found, context.may(.read, client: position.clientId) else {
            if found != nil { context.audit.noteHidden() }
            throw RPCError(.notFound, "position \(id.prefix(128)) not found")
        }
        try context.authorize(access, client: position.clientId, requestId: requestId)
        return position
    }

    /// Whether the caller may read the position's events: true for a position it may
    /// read and for one that does not exist (its listing is empty either way).
    func mayRead(position id: String, _ context: ServerContext) -> Bool {
        guard let position = position(id) else { return true }
        guard context.may(.read, client: position.clientId) else {
            context.audit.noteHidden()
            return false
        }
        context.audit.noteClient(position.clientId)
        return true
    }
}
