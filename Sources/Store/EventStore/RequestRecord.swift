import HoldingsProto
import RPCCore

/// What the service remembers of a request id: the fingerprint of the request that used it
/// first (a reuse by another request is INVALID_ARGUMENT) and its outcome, so that a retry
/// answers what the first attempt answered. One type for every kind of write.
public struct RequestRecord: Sendable {
    public enum Outcome: Sendable {
        /// One event: the aggregate and version it produced (the answer is rebuilt from the
        /// audit trail as of that version).
        case event(aggregateId: String, version: Int64, eventId: String)
        /// A multi-client batch (PublishPrices): the positions done so far and, once whole, the
        /// quoted tickers nobody held.
        case batch(done: Set<String>, unheld: [String]?)
        /// A rebalancing plan executed (a plan executes once): its run and answer.
        case execution(rebalancingId: String, response: Ultracore_Holdings_V1_ExecuteRebalancingResponse)
    }

    public var requestId: String
    public var fingerprint: String
    public var outcome: Outcome

    public init(requestId: String, fingerprint: String, outcome: Outcome) {
        (self.requestId, self.fingerprint, self.outcome) = (requestId, fingerprint, outcome)
    }

    /// The recorded outcome, or INVALID_ARGUMENT when `fingerprint` is another request's.
    public func matching(_ fingerprint: String) throws(RPCError) -> Outcome {
        guard self.fingerprint == fingerprint else { throw Self.reused(requestId) }
        return outcome
    }

    public static func reused(_ requestId: String) -> RPCError {
        RPCError(.invalidArgument, "request_id \(requestId) was already used by a different request")
    }
}
