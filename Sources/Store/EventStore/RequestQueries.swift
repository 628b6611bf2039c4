import Domain
import HoldingsProto

/// The SQL the write side reads: request outcomes, a client's book, and the events an
/// earlier attempt of a multi-client request recorded.
extension ReadModels {
    /// Request outcomes by client and request id (of one client when given).
    public static func loadRequests(client: String? = nil, on connection: PostgresConnection) throws -> [String: [String: RequestRecord]] {
        let rows = try connection.execute("""
            SELECT client_id, request_id, request_digest, aggregate_id, aggregate_version, event_id::text
            FROM events WHERE request_id <> '' AND ($1 = '' OR client_id = $1)
            ORDER BY client_id, request_id, aggregate_id, aggregate_version
            """, [.text(client ?? "")])
        var requests: [String: [String: RequestRecord]] = [:]
        for row in rows.rows {
            guard let client = row[0], let request = row[1], let digest = row[2], let aggregate = row[3],
                  let version = row[4].flatMap({ Int64($0) }), let eventId = row[5] else { continue }
            requests[client, default: [:]][request] = RequestRecord(
                requestId: request, fingerprint: digest, outcome: .event(aggregateId: aggregate, version: version, eventId: eventId))
        }
        return requests
    }

    /// One client's positions, request outcomes, wash-sale ledger and schedule, as Postgres holds them.
    public static func loadClient(_ client: String, on connection: PostgresConnection)
        throws -> (positions: [PositionState], requests: [String: RequestRecord], washLosses: [String: [WashLoss]],
                   schedule: (schedule: Ultracore_Holdings_V1_RebalancingSchedule, version: Int64)?) {
        let ids = try connection.execute("SELECT position_id FROM positions WHERE client_id = $1", [.text(client)]).rows.compactMap { $0[0] }
        let positions = try loadPositions(ids, on: connection)
        let schedule = try loadSchedules(on: connection).first { $0.schedule.clientId == client }
        return (Array(positions.values), try loadRequests(client: client, on: connection)[client] ?? [:],
                try loadWashLosses(client: client, on: connection)[client] ?? [:],
                schedule)
    }

    /// The positions an earlier attempt of a PublishPrices request id valued, with its fingerprint.
    public static func valuationsOfRequest(_ requestId: String, on connection: PostgresConnection) throws -> [(aggregateId: String, digest: String?)] {
        try connection.execute("""
            SELECT aggregate_id, request_digest FROM events
            WHERE request_id = $1 AND event_type = 'POSITION_VALUED' AND body IS NOT NULL
            """, [.text(requestId)]).rows.compactMap { row in row[0].map { ($0, row[1]) } }
    }

    /// The results an earlier attempt of an ApplyCorporateAction request id recorded, with its fingerprint.
    public static func corporateActionsOfRequest(_ requestId: String, on connection: PostgresConnection)
        throws -> [(applied: Ultracore_Holdings_V1_CorporateActionApplied, digest: String?)] {
        let rows = try connection.execute("""
            SELECT body, request_digest FROM events WHERE request_id = $1 AND event_type = 'CORPORATE_ACTION_APPLIED'
            """, [.text(requestId)]).rows
        return rows.compactMap { row in
            guard let body = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: body),
                  case .corporateActionApplied(let applied)? = event.payload else { return nil }
            return (applied, row[1])
        }
    }
}
