import Domain
import HoldingsProto

/// The SQL of reads over the audit trail's valuations and rebalancing outcomes.
extension ReadModels {
    /// Prices of a client's POSITION_VALUED events, by position, in version order.
    public static func valuedPrices(client: String, on connection: PostgresConnection) throws -> [String: [String]] {
        let rows = try connection.execute("""
            SELECT aggregate_id, body FROM events WHERE client_id = $1 AND event_type = 'POSITION_VALUED'
            ORDER BY aggregate_id, aggregate_version
            """, [.text(client)]).rows
        var prices: [String: [String]] = [:]
        for row in rows {
            guard let id = row[0], let body = row[1].flatMap(decodeBytea),
                  let event = try? Ultracore_Holdings_V1_Event(serializedBytes: body),
                  case .positionValued(let valued)? = event.payload else { continue }
            prices[id, default: []].append(valued.price)
        }
        return prices
    }

    /// The last `count` prices a position was valued at, oldest first.
    public static func recentPrices(position: String, count: Int, on connection: PostgresConnection) throws -> [ExactDecimal] {
        let rows = try connection.execute("""
            SELECT body FROM events WHERE aggregate_id = $1 AND event_type = 'POSITION_VALUED'
            ORDER BY aggregate_version DESC LIMIT $2
            """, [.text(position), .text(String(count))])
        return rows.rows.reversed().compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: bytes),
                  case .positionValued(let valued)? = event.payload else { return nil }
            return ExactDecimal(valued.price)
        }
    }

    /// The completed rebalancing run a client's request id recorded, with the request's fingerprint.
    public static func completedRun(client: String, requestId: String, on connection: PostgresConnection) throws -> (run: String, digest: String?)? {
        let rows = try connection.execute("""
            SELECT e.rebalancing_id, e.request_digest FROM events e JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id
            WHERE e.client_id = $1 AND e.request_id = $2 AND e.event_type = 'REBALANCING_COMPLETED' AND r.outcome = 'COMPLETED'
            """, [.text(client), .text(requestId)]).rows
        guard let row = rows.first, let run = row[0] else { return nil }
        return (run, row[1])
    }
}

extension ReadModels {
    /// The event types DetectAnomalies reads: trades, valuations and splits.
    public static let marketEventTypes = ["POSITION_OPENED", "LOT_ADDED", "LOTS_SOLD", "POSITION_CLOSED", "POSITION_VALUED",
                                          "CORPORATE_ACTION_APPLIED"]

    /// A client's last `limit` market events (``marketEventTypes``, and the trades of completed
    /// rebalancing runs), in log time order.
    public static func recentMarketEvents(client: String, limit: Int, on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_Event] {
        let rows = try connection.execute("""
            SELECT e.body FROM events e LEFT JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id AND e.rebalancing_id <> ''
            WHERE e.client_id = $1 AND (e.event_type = ANY($2::text[]) OR (e.event_type = 'TRADE_EXECUTED' AND r.outcome = 'COMPLETED'))
            ORDER BY e.occurred_at DESC, e.aggregate_id DESC, e.aggregate_version DESC
            LIMIT $3
            """, [.text(client), .text(postgresArrayLiteral(marketEventTypes)), .text(String(limit))])
        return try rows.rows.reversed().compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea) else { return nil }
            return try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
        }
    }
}
