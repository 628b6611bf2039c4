import Domain
import EventLog
import Foundation
import HoldingsProto

/// The SQL of DataMeshService: quality over the audit trail, lineage, freshness, as-of
/// reads and the quarantine.
extension ReadModels {
    // MARK: quality

    /// Which events GetDataQuality examines: a client's or an aggregate's, of some types, in a window.
    public struct EventFilter: Sendable {
        public var client: String?
        public var aggregate: String?
        public var types: [String]?
        public var since: Instant?
        public var until: Instant?

        public init(client: String?, aggregate: String?, types: [String]?, since: Instant?, until: Instant?) {
            (self.client, self.aggregate, self.types, self.since, self.until) = (client, aggregate, types, since, until)
        }

        /// The WHERE clause over `events` (alias e) with parameters from $1.
        func clause() -> (String, [PostgresValue]) {
            var conditions = ["e.quality_score IS NOT NULL"]
            var parameters: [PostgresValue] = []
            func add(_ sql: (Int) -> String, _ value: PostgresValue) {
                parameters.append(value)
                conditions.append(sql(parameters.count))
            }
            if let client { add({ "e.client_id = $\($0)" }, .text(client)) }
            if let aggregate { add({ "e.aggregate_id = $\($0)" }, .text(aggregate)) }
            if let types { add({ "e.event_type = ANY($\($0)::text[])" }, .text(postgresArrayLiteral(types))) }
            if let since { add({ "e.occurred_at >= to_timestamp($\($0)::float8 / 1e6)" }, .text(String(since.microseconds))) }
            if let until { add({ "e.occurred_at < to_timestamp($\($0)::float8 / 1e6)" }, .text(String(until.microseconds))) }
            return (conditions.joined(separator: " AND "), parameters)
        }
    }

    /// Per event type: events, Σ score, events below 100.
    public struct TypeQuality: Sendable {
        public var type: String
        public var events: Int64
        public var scoreSum: Int64
        public var imperfect: Int64
    }

    public static func qualityByType(_ filter: EventFilter, on connection: PostgresConnection) throws -> [TypeQuality] {
        let (clause, parameters) = filter.clause()
        let rows = try connection.execute("""
            SELECT e.event_type, count(*), sum(e.quality_score), count(*) FILTER (WHERE e.quality_score < 100)
            FROM events e WHERE \(clause) GROUP BY e.event_type ORDER BY e.event_type
            """, parameters)
        return rows.rows.compactMap { row in
            guard let type = row[0], let events = row[1].flatMap({ Int64($0) }), let sum = row[2].flatMap({ Int64($0) }),
                  let imperfect = row[3].flatMap({ Int64($0) }) else { return nil }
            return TypeQuality(type: type, events: events, scoreSum: sum, imperfect: imperfect)
        }
    }

    /// Failed counts per (event type, rule).
    public static func failuresByTypeAndRule(_ filter: EventFilter, on connection: PostgresConnection) throws -> [(type: String, rule: String, count: Int64)] {
        let (clause, parameters) = filter.clause()
        let rows = try connection.execute("""
            SELECT e.event_type, r.rule, count(*) FROM events e, unnest(e.failed_rules) AS r(rule)
            WHERE \(clause) GROUP BY 1, 2 ORDER BY 1, 2
            """, parameters)
        return rows.rows.compactMap { row in
            guard let type = row[0], let rule = row[1], let count = row[2].flatMap({ Int64($0) }) else { return nil }
            return (type, rule, count)
        }
    }

    /// Per UTC day of occurred_at (the last `days`, oldest first): day start, events, Σ score, events below 100.
    public static func qualityByDay(_ filter: EventFilter, days: Int, on connection: PostgresConnection) throws -> [(day: String, events: Int64, scoreSum: Int64, imperfect: Int64)] {
        let (clause, parameters) = filter.clause()
        let rows = try connection.execute("""
            SELECT * FROM (
                SELECT to_char(date_trunc('day', e.occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*),
                       sum(e.quality_score), count(*) FILTER (WHERE e.quality_score < 100)
                FROM events e WHERE \(clause) GROUP BY 1 ORDER BY 1 DESC LIMIT \(days)) d ORDER BY day
            """, parameters)
        return rows.rows.compactMap { row in
            guard let day = row[0], let events = row[1].flatMap({ Int64($0) }), let sum = row[2].flatMap({ Int64($0) }),
                  let imperfect = row[3].flatMap({ Int64($0) }) else { return nil }
            return (day, events, sum, imperfect)
        }
    }

    /// Up to `limit` events that failed `rule`, newest first, with the time the log received them.
    public static func failingEvents(_ filter: EventFilter, rule: String, limit: Int, on connection: PostgresConnection) throws -> [(event: Ultracore_Holdings_V1_Event, ingestedAt: Instant?)] {
        var (clause, parameters) = filter.clause()
        parameters.append(.text(rule))
        clause += " AND $\(parameters.count) = ANY(e.failed_rules)"
        let rows = try connection.execute("""
            SELECT e.body, (extract(epoch FROM coalesce(e.ingested_at, e.recorded_at)) * 1000000)::int8 FROM events e
            WHERE \(clause) ORDER BY e.occurred_at DESC LIMIT \(limit)
            """, parameters)
        return rows.rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: bytes) else { return nil }
            return (event, row[1].flatMap { Int64($0) }.map(Instant.init(microseconds:)))
        }
    }

    /// Records quarantined for their quality that claim this client or aggregate.
    public static func quarantinedCount(client: String?, aggregate: String?, on connection: PostgresConnection) throws -> Int64 {
        let rows = try connection.execute("""
            SELECT count(*) FROM dead_letters WHERE failed_rules <> '{}' AND replayed_at IS NULL
              AND ($1 = '' OR client_id = $1) AND ($2 = '' OR aggregate_id = $2)
            """, [.text(client ?? ""), .text(aggregate ?? "")])
        return rows.rows.first?[0].flatMap { Int64($0) } ?? 0
    }

    // MARK: backfill

    /// Events stored before quality existed (quality_score NULL): id, body and recording time.
    public static func unscoredEvents(limit: Int, on connection: PostgresConnection) throws -> [(id: String, body: [UInt8], recordedAt: Instant)] {
        let rows = try connection.execute("""
            SELECT event_id::text, body, (extract(epoch FROM recorded_at) * 1000000)::int8 FROM events
            WHERE quality_score IS NULL ORDER BY recorded_at LIMIT \(limit)
            """)
        return rows.rows.compactMap { row in
            guard let id = row[0], let body = row[1].flatMap(decodeBytea), let micros = row[2].flatMap({ Int64($0) }) else { return nil }
            return (id, body, Instant(microseconds: micros))
        }
    }

    /// Fills the quality and lineage columns of events stored before they existed.
    public static func saveBackfill(_ rows: [(id: String, score: Int32, failed: [String], correlation: String, causation: String)],
                                    on connection: PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        try connection.execute("""
            UPDATE events e SET quality_score = x.score, failed_rules = string_to_array(x.failed, ','),
                                correlation_id = x.correlation, causation_id = x.causation
            FROM unnest($1::uuid[], $2::int2[], $3::text[], $4::text[], $5::text[]) AS x(id, score, failed, correlation, causation)
            WHERE e.event_id = x.id
            """, [.text(postgresArrayLiteral(rows.map(\.id))), .text(postgresArrayLiteral(rows.map { String($0.score) })),
                  .text(postgresArrayLiteral(rows.map { $0.failed.joined(separator: ",") })),
                  .text(postgresArrayLiteral(rows.map(\.correlation))), .text(postgresArrayLiteral(rows.map(\.causation)))])
    }

    // MARK: lineage

    /// A stored event with its lineage columns.
    public struct LineageRow: Sendable {
        public var event: Ultracore_Holdings_V1_Event
        public var score: Int32
        public var runCompleted: Bool?
    }

    static let lineageColumns = """
        e.body, coalesce(e.quality_score, -1), r.outcome FROM events e
        LEFT JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id AND e.rebalancing_id <> ''
        """

    static func lineageRows(_ rows: PostgresRows) -> [LineageRow] {
        rows.rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: bytes) else { return nil }
            return LineageRow(event: event, score: row[1].flatMap { Int32($0) } ?? -1, runCompleted: row[2].map { $0 == "COMPLETED" })
        }
    }

    public static func lineageEvents(ids: [String], on connection: PostgresConnection) throws -> [LineageRow] {
        guard !ids.isEmpty else { return [] }
        return lineageRows(try connection.execute("SELECT \(lineageColumns) WHERE e.event_id = ANY($1::uuid[])",
                                                  [.text(postgresArrayLiteral(ids))]))
    }

    public static func lineageEvents(aggregate: String, limit: Int, on connection: PostgresConnection) throws -> [LineageRow] {
        lineageRows(try connection.execute("SELECT \(lineageColumns) WHERE e.aggregate_id = $1 ORDER BY e.aggregate_version LIMIT \(limit)",
                                           [.text(aggregate)]))
    }

    /// Events caused by `ids` (causation_id), sharing their correlation ids, or next to them
    /// in their aggregates (version ± 1); at most `limit`.
    public static func lineageNeighbours(of events: [Ultracore_Holdings_V1_Event], limit: Int, on connection: PostgresConnection) throws -> [LineageRow] {
        guard !events.isEmpty, limit > 0 else { return [] }
        let ids = events.map(\.eventId)
        let correlations = Array(Set(events.map(\.correlationId).filter { !$0.isEmpty }))
        // Causation ids that are event ids (a UUID; a request's id is not an event of the trail).
        let causes = Array(Set(events.map(\.causationId).filter { $0.utf8.count == 36 && UUID(uuidString: $0) != nil }))
        var aggregates: [String?] = [], versions: [String?] = []
        for event in events {
            for version in [event.aggregateVersion - 1, event.aggregateVersion + 1] where version > 0 {
                aggregates.append(event.aggregateId)
                versions.append(String(version))
            }
        }
        return lineageRows(try connection.execute("""
            SELECT \(lineageColumns) WHERE e.event_id IN (
                SELECT event_id FROM events WHERE causation_id = ANY($1::text[]) AND causation_id <> ''
                UNION SELECT event_id FROM events WHERE event_id = ANY($2::uuid[])
                UNION (SELECT event_id FROM events WHERE correlation_id = ANY($3::text[]) AND correlation_id <> '' LIMIT \(limit))
                UNION SELECT x.event_id FROM events x JOIN unnest($4::text[], $5::int8[]) AS k(a, v)
                      ON x.aggregate_id = k.a AND x.aggregate_version = k.v)
            ORDER BY e.occurred_at, e.aggregate_id, e.aggregate_version LIMIT \(limit)
            """, [.text(postgresArrayLiteral(ids)), .text(postgresArrayLiteral(causes)), .text(postgresArrayLiteral(correlations)),
                  .text(postgresArrayLiteral(aggregates)), .text(postgresArrayLiteral(versions))]))
    }

    // MARK: freshness

    /// Exact row counts of the tables in `names` (names from the DataProducts catalog, never
    /// from a request).
    public static func rowCounts(_ names: [String], on connection: PostgresConnection) throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for name in names {
            counts[name] = try connection.execute("SELECT count(*) FROM \(name)").rows.first?[0].flatMap { Int64($0) } ?? 0
        }
        return counts
    }

    /// The occurred_at of the last event the projector applied to each read model.
    public static func viewLastEvents(on connection: PostgresConnection) throws -> [String: Instant] {
        let rows = try connection.execute("SELECT view_name, (extract(epoch FROM last_event_at) * 1000000)::int8 FROM view_freshness")
        return Dictionary(rows.rows.compactMap { row in
            guard let name = row[0], let micros = row[1].flatMap({ Int64($0) }) else { return nil }
            return (name, Instant(microseconds: micros))
        }, uniquingKeysWith: { first, _ in first })
    }

    /// The projector's stored position per partition (its group key is "<group>@<cluster>"):
    /// next offset and the log time of the last record applied.
    public static func projectorOffsets(group: String, on connection: PostgresConnection) throws -> [PartitionKey: (next: Int64, lastRecordAt: Instant?)] {
        let rows = try connection.execute("""
            SELECT topic, kafka_partition, next_offset, (extract(epoch FROM last_record_at) * 1000000)::int8
            FROM consumer_offsets WHERE consumer_group = $1
            """, [.text(group)])
        var result: [PartitionKey: (next: Int64, lastRecordAt: Instant?)] = [:]
        for row in rows.rows {
            guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }), let next = row[2].flatMap({ Int64($0) }) else { continue }
            result[PartitionKey(topic: topic, partition: partition)] = (next, row[3].flatMap { Int64($0) }.map(Instant.init(microseconds:)))
        }
        return result
    }

    // MARK: as of

    /// The events of a client's positions that occurred at or before `time`, in aggregate
    /// then version order; a trade of a run not completed by `time` is marked void.
    public static func positionEvents(client: String, asOf time: Instant, on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_Event] {
        let rows = try connection.execute("""
            SELECT e.body, e.event_type = 'TRADE_EXECUTED'
                   AND NOT (coalesce(r.outcome, '') = 'COMPLETED' AND r.decided_at <= to_timestamp($2::float8 / 1e6))
            FROM events e
            JOIN positions p ON p.position_id = e.aggregate_id AND p.client_id = $1
            LEFT JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id AND e.rebalancing_id <> ''
            WHERE e.client_id = $1 AND e.occurred_at <= to_timestamp($2::float8 / 1e6)
            ORDER BY e.aggregate_id, e.aggregate_version
            """, [.text(client), .text(String(time.microseconds))])
        return try rows.rows.map { row in
            guard let bytes = row[0].flatMap(decodeBytea) else {
                throw PostgresError(kind: .statement, sqlState: "", message: "an event body of client \(client) is not bytea")
            }
            var event = try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
            if row[1] == "t" { event.attributes[RebalancingEvents.voidAttribute] = "true" }
            return event
        }
    }

    // MARK: quarantine

    public struct QuarantineRow: Sendable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        public var eventId: String
        public var eventType: String
        public var aggregateId: String
        public var clientId: String
        public var reason: String
        public var failedRules: [String]
        public var quarantinedAt: Instant
        public var replayedAt: Instant?
    }

    public static func quarantine(limit: Int, qualityOnly: Bool, includeReplayed: Bool, on connection: PostgresConnection) throws -> (rows: [QuarantineRow], open: Int64) {
        let rows = try connection.execute("""
            SELECT topic, kafka_partition, kafka_offset, event_id, event_type, aggregate_id, client_id, reason,
                   array_to_string(failed_rules, ','), (extract(epoch FROM dead_lettered_at) * 1000000)::int8,
                   (extract(epoch FROM replayed_at) * 1000000)::int8
            FROM dead_letters WHERE ($1 = 'f' OR failed_rules <> '{}') AND ($2 = 't' OR replayed_at IS NULL)
            ORDER BY dead_lettered_at DESC, topic, kafka_partition, kafka_offset DESC LIMIT \(limit)
            """, [.text(qualityOnly ? "t" : "f"), .text(includeReplayed ? "t" : "f")])
        let open = try openDeadLetterCount(on: connection)
        return (rows.rows.compactMap { row in
            guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }), let offset = row[2].flatMap({ Int64($0) }),
                  let at = row[9].flatMap({ Int64($0) }) else { return nil }
            return QuarantineRow(topic: topic, partition: partition, offset: offset, eventId: row[3] ?? "", eventType: row[4] ?? "",
                                 aggregateId: row[5] ?? "", clientId: row[6] ?? "", reason: row[7] ?? "",
                                 failedRules: (row[8] ?? "").split(separator: ",").map(String.init),
                                 quarantinedAt: Instant(microseconds: at), replayedAt: row[10].flatMap { Int64($0) }.map(Instant.init(microseconds:)))
        }, Int64(open))
    }
}
