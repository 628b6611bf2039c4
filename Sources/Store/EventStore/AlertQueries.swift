import Domain
import HoldingsProto

/// The SQL of the agent_alerts read model.
extension ReadModels {
    /// One alert as stored.
    public struct StoredAlert: Sendable {
        public var raised: Ultracore_Holdings_V1_Event
        public var cleared: Ultracore_Holdings_V1_Event?
        public var acknowledgedAt: Instant?
        public var acknowledgedBy: String
        public var note: String
        public var acknowledgedEventId: String
        public var acknowledgedRequestId: String

        /// The alert's latest payload (the clearing one once cleared).
        public var alert: Ultracore_Holdings_V1_AgentAlert? {
            if case .agentAlert(let alert)? = (cleared ?? raised).payload { return alert }
            return nil
        }
    }

    static func micros(_ event: Ultracore_Holdings_V1_Event) -> String {
        String(event.occurredAt.flatMap(Instant.init)?.microseconds ?? 0)
    }

    /// Applies AGENT_ALERT (raise inserts, clear updates) and ALERT_ACKNOWLEDGED.
    public static func applyAlertEvent(_ event: Ultracore_Holdings_V1_Event, on connection: PostgresConnection) throws {
        switch event.payload {
        case .agentAlert(let alert)? where alert.state == .raised:
            _ = try connection.execute("""
                INSERT INTO agent_alerts (alert_id, client_id, kind, raised_event_id, raised_at, raised_body)
                VALUES ($1, $2, $3, $4, 'epoch'::timestamptz + $5::int8 * interval '1 microsecond', decode($6, 'hex'))
                ON CONFLICT (alert_id) DO NOTHING
                """, [.text(alert.alertId), .text(alert.clientId), .text(alert.kind.protoName ?? ""), .text(event.eventId),
                      .text(micros(event)), .text(hex(event.serializedBytes()))])
        case .agentAlert(let alert)?:
            _ = try connection.execute("""
                UPDATE agent_alerts SET cleared_at = 'epoch'::timestamptz + $2::int8 * interval '1 microsecond', cleared_body = decode($3, 'hex')
                WHERE alert_id = $1 AND cleared_at IS NULL
                """, [.text(alert.alertId), .text(micros(event)), .text(hex(event.serializedBytes()))])
        case .alertAcknowledged(let ack)?:
            _ = try connection.execute("""
                UPDATE agent_alerts SET acknowledged_at = 'epoch'::timestamptz + $2::int8 * interval '1 microsecond', acknowledged_by = $3, note = $4,
                       acknowledged_event_id = $5, acknowledged_request_id = $6
                WHERE alert_id = $1 AND acknowledged_at IS NULL
                """, [.text(ack.alertId), .text(micros(event)), .text(event.actor), .text(ack.note), .text(event.eventId), .text(event.requestId)])
        default:
            break
        }
    }

    /// A client's alerts, newest raised first (`alertId`: that one only).
    public static func alerts(client: String, includeCleared: Bool, limit: Int, alertId: String = "",
                              on connection: PostgresConnection) throws -> [StoredAlert] {
        let rows = try connection.execute("""
            SELECT raised_body, cleared_body, (extract(epoch from acknowledged_at) * 1000000)::int8, coalesce(acknowledged_by, ''), coalesce(note, ''),
                   coalesce(acknowledged_event_id, ''), coalesce(acknowledged_request_id, '')
            FROM agent_alerts WHERE client_id = $1 AND ($2 = 'all' OR cleared_at IS NULL) AND ($4 = '' OR alert_id = $4)
            ORDER BY raised_at DESC, alert_id DESC LIMIT $3
            """, [.text(client), .text(includeCleared ? "all" : "open"), .text(String(limit)), .text(alertId)]).rows
        return try rows.compactMap { row in
            guard let raised = row[0].flatMap(decodeBytea) else { return nil }
            let cleared = try row[1].flatMap(decodeBytea).map { try Ultracore_Holdings_V1_Event(serializedBytes: $0) }
            return StoredAlert(raised: try Ultracore_Holdings_V1_Event(serializedBytes: raised), cleared: cleared,
                               acknowledgedAt: row[2].flatMap { Int64($0) }.map(Instant.init(microseconds:)),
                               acknowledgedBy: row[3] ?? "", note: row[4] ?? "", acknowledgedEventId: row[5] ?? "",
                               acknowledgedRequestId: row[6] ?? "")
        }
    }

    /// Every open alert (the agent's memory after a restart).
    public static func openAlerts(on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_AgentAlert] {
        try connection.execute("SELECT raised_body FROM agent_alerts WHERE cleared_at IS NULL").rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea), case .agentAlert(let alert)? = try Ultracore_Holdings_V1_Event(serializedBytes: bytes).payload
            else { return nil }
            return alert
        }
    }
}

extension ReadModels {
    /// Whether the audit trail holds an event.
    public static func hasEvent(_ eventId: String, on connection: PostgresConnection) throws -> Bool {
        !(try connection.execute("SELECT 1 FROM events WHERE event_id = $1", [.text(eventId)]).rows.isEmpty)
    }

    /// The id of a client's latest event in the log of record (the agent's alerts left out).
    /// Events recorded together share their time (a rebalancing run's): the log offset orders
    /// them (a client's events are all on its partition).
    public static func latestHoldingsEvent(client: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute("""
            SELECT event_id FROM events WHERE client_id = $1 AND event_type NOT IN ('AGENT_ALERT', 'ALERT_ACKNOWLEDGED')
            ORDER BY occurred_at DESC, kafka_offset DESC LIMIT 1
            """, [.text(client)]).rows.first?[0] ?? nil
    }
}
