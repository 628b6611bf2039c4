import Domain
import EventLog
import Foundation
import HoldingsProto

/// A record of the log that the projection could not take, and why.
public struct DeadLetter: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var body: [UInt8]
    /// The decoded event, when the record is one.
    public var event: Ultracore_Holdings_V1_Event?
    public var reason: String
    /// The critical data-quality rules the record failed: it was quarantined for its
    /// quality and does not hold back later events of its aggregate.
    public var failedRules: [String]
    /// When the log received the record, when known (replays judge it by the same time).
    public var ingestedAt: Instant?

    public init(topic: String, partition: Int32, offset: Int64, body: [UInt8], event: Ultracore_Holdings_V1_Event?, reason: String,
                failedRules: [String] = [], ingestedAt: Instant? = nil) {
        (self.topic, self.partition, self.offset, self.body, self.event, self.reason) = (topic, partition, offset, body, event, reason)
        self.failedRules = failedRules
        self.ingestedAt = ingestedAt
    }

    /// Whether the later events of its aggregate wait behind it.
    public var blocksAggregate: Bool { failedRules.isEmpty }
}

/// The SQL of the `dead_letters` table (migration 0004).
extension ReadModels {
    public static func saveDeadLetters(_ letters: [DeadLetter], on connection: PostgresConnection) throws {
        for letter in letters {
            let event = letter.event
            try connection.execute("""
                INSERT INTO dead_letters (topic, kafka_partition, kafka_offset, event_id, aggregate_id, aggregate_version,
                                          client_id, event_type, reason, body, failed_rules, ingested_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], to_timestamp($12::float8 / 1e6))
                ON CONFLICT (topic, kafka_partition, kafka_offset) DO UPDATE SET
                    reason = excluded.reason, failed_rules = excluded.failed_rules, replayed_at = NULL,
                    dead_lettered_at = clock_timestamp()
                """, [.text(letter.topic), .text(String(letter.partition)), .text(String(letter.offset)),
                      .text(event?.eventId ?? ""), .text(event?.aggregateId ?? ""), .text(String(event?.aggregateVersion ?? 0)),
                      .text(event?.clientId ?? ""), .text(event?.eventType.protoName ?? ""), .text(letter.reason),
                      .bytes(letter.body), .text(postgresArrayLiteral(letter.failedRules)),
                      letter.ingestedAt.map { .text(String($0.microseconds)) } ?? .null])
        }
    }

    /// Dead letters not replayed yet, in log order (by topic, partition, offset).
    public static func openDeadLetters(on connection: PostgresConnection) throws -> [DeadLetter] {
        let rows = try connection.execute("""
            SELECT topic, kafka_partition, kafka_offset, body, reason,
                   (extract(epoch FROM ingested_at) * 1000000)::int8 FROM dead_letters
            WHERE replayed_at IS NULL ORDER BY topic, kafka_partition, kafka_offset
            """)
        return rows.rows.compactMap { row in
            guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }), let offset = row[2].flatMap({ Int64($0) }),
                  let body = row[3].flatMap(decodeBytea), let reason = row[4] else { return nil }
            return DeadLetter(topic: topic, partition: partition, offset: offset, body: body, event: nil, reason: reason,
                              ingestedAt: row[5].flatMap { Int64($0) }.map(Instant.init(microseconds:)))
        }
    }

    public static func markReplayed(_ letters: [DeadLetter], on connection: PostgresConnection) throws {
        for letter in letters {
            try connection.execute("""
                UPDATE dead_letters SET replayed_at = clock_timestamp()
                WHERE topic = $1 AND kafka_partition = $2 AND kafka_offset = $3
                """, [.text(letter.topic), .text(String(letter.partition)), .text(String(letter.offset))])
        }
    }

    public static func openDeadLetterCount(on connection: PostgresConnection) throws -> Int {
        let rows = try connection.execute("SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL")
        return rows.rows.first?[0].flatMap { Int($0) } ?? 0
    }

    /// Aggregates with an open dead letter: their later events cannot apply either.
    public static func quarantinedAggregates(on connection: PostgresConnection) throws -> Set<String> {
        let rows = try connection.execute("SELECT DISTINCT aggregate_id FROM dead_letters WHERE replayed_at IS NULL AND aggregate_id <> '' AND failed_rules = '{}'")
        return Set(rows.rows.compactMap { $0[0] })
    }

    /// Which of `ids` the audit trail already holds, with the SHA-256 (hex) of each one's
    /// body: the same body is a record read again after a crash, another body a second
    /// event under a taken id.
    public static func knownEventIds(_ ids: [String], on connection: PostgresConnection) throws -> [String: String] {
        guard !ids.isEmpty else { return [:] }
        let rows = try connection.execute("SELECT event_id::text, encode(sha256(body), 'hex') FROM events WHERE event_id = ANY($1::uuid[])",
                                          [.text(postgresArrayLiteral(ids))])
        return Dictionary(rows.rows.compactMap { row in row[0].map { ($0, row[1] ?? "") } }, uniquingKeysWith: { first, _ in first })
    }

    /// Which (aggregate, version) pairs of `events` the audit trail already holds, as "aggregate\0version".
    public static func takenVersions(_ events: [Ultracore_Holdings_V1_Event], on connection: PostgresConnection) throws -> Set<String> {
        guard !events.isEmpty else { return [] }
        let rows = try connection.execute("""
            SELECT e.aggregate_id || chr(1) || e.aggregate_version FROM events e
            JOIN unnest($1::text[], $2::int8[]) AS x(a, v) ON e.aggregate_id = x.a AND e.aggregate_version = x.v
            """, [.text(postgresArrayLiteral(events.map(\.aggregateId))),
                  .text(postgresArrayLiteral(events.map { String($0.aggregateVersion) }))])
        return Set(rows.rows.compactMap { $0[0] })
    }
}
