import Domain
import Store

/// Parsing shared by the handlers.
enum RequestParsing {
    /// A request id: empty (no idempotency) or an identifier.
    static func requestId(_ requestId: String) throws -> String {
        if !requestId.isEmpty { _ = try Validation.identifier(requestId, field: "request_id") }
        return requestId
    }
}
