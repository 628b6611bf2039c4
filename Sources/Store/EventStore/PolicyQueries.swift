import Domain
import HoldingsProto

/// The SQL of the policies read model (POLICY_TRAINED events).
extension ReadModels {
    /// Stores a POLICY_TRAINED event (the first one of an id wins; a policy never changes).
    public static func savePolicy(_ event: Ultracore_Holdings_V1_Event, on connection: PostgresConnection) throws {
        guard case .policyTrained(let trained)? = event.payload else { return }
        _ = try connection.execute("""
            INSERT INTO policies (policy_id, event_id, trained_at, body)
            VALUES ($1, $2, 'epoch'::timestamptz + $3::int8 * interval '1 microsecond', decode($4, 'hex'))
            ON CONFLICT (policy_id) DO NOTHING
            """, [.text(trained.policyId), .text(event.eventId),
                  .text(micros(event)), .text(hex(event.serializedBytes()))])
    }

    /// The POLICY_TRAINED event of a policy id, if any.
    public static func loadPolicy(_ policyId: String, on connection: PostgresConnection) throws -> Ultracore_Holdings_V1_Event? {
        let rows = try connection.execute("SELECT body FROM policies WHERE policy_id = $1", [.text(policyId)]).rows
        guard let bytes = rows.first?[0].flatMap(decodeBytea) else { return nil }
        return try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
    }

    /// The last `count` prices of each of `tickers` in a client's valuations, oldest first
    /// (read newest first, at most `scan` valuations).
    public static func recentTickerPrices(client: String, tickers: Set<String>, count: Int, scan: Int = 100_000,
                                          on connection: PostgresConnection) throws -> [String: [String]] {
        let rows = try connection.execute("""
            SELECT body FROM events WHERE client_id = $1 AND event_type = 'POSITION_VALUED'
            ORDER BY occurred_at DESC, aggregate_id DESC, aggregate_version DESC LIMIT $2
            """, [.text(client), .text(String(scan))]).rows
        var prices: [String: [String]] = [:]
        var full = 0
        for row in rows {
            guard let bytes = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: bytes),
                  case .positionValued(let valued)? = event.payload, tickers.contains(valued.ticker) else { continue }
            var list = prices[valued.ticker] ?? []
            guard list.count < count else { continue }
            list.append(valued.price)
            if list.count == count { full += 1 }
            prices[valued.ticker] = list
            if full == tickers.count { break }
        }
        return prices.mapValues { $0.reversed() }
    }
}
