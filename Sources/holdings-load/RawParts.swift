import EventLog
import Foundation
import Store

/// The pipeline's own parts measured alone, so the acknowledged OpenPosition rate can be
/// read as a ratio to its slowest part: librdkafka producing event-sized records (same
/// producer settings as holdingsd: idempotent, acks=all, linger 2 ms) into a librdkafka
/// mock cluster started here, and Postgres taking rows of the `events` table's shape in
/// batched transactions (holdingsd's INSERT … SELECT FROM unnest, 2,000 rows per batch)
/// into a temporary copy of that table in the load database.
enum RawParts {
    static let recordSize = 330

    /// Records acknowledged per second: `count` records in sends of `batch`, `inFlight` sends at a time.
    static func produceRate(count: Int, batch: Int = 1000, inFlight: Int = 16) async throws -> Double {
        let broker = try EmbeddedBroker(topics: ["raw"], partitions: 16)
        var configuration = KafkaConfiguration()
        configuration.clientId = "holdings-load-raw"
        let rate: Double
        do {
            // The producer is gone (flushed, disconnected) before the broker stops.
            let producer = try EventProducer(configuration: configuration, bootstrap: broker.bootstrap)
            rate = try await produce(count: count, batch: batch, inFlight: inFlight, producer: producer)
        }
        withExtendedLifetime(broker) {}
        return rate
    }

    private static func produce(count: Int, batch: Int, inFlight: Int, producer: EventProducer) async throws -> Double {
        let value = [UInt8](repeating: 0x5a, count: recordSize)
        // Untimed: connections, metadata and producer ids are set up by a first record per partition.
        let warmUp = (0..<16).map { OutgoingRecord(topic: "raw", partition: Int32($0), key: [], value: value, headers: []) }
        _ = await producer.send(warmUp)
        let started = ContinuousClock.now
        let failures = await withTaskGroup(of: Int.self) { group in
            var sent = 0, failed = 0
            func add() {
                let size = min(batch, count - sent)
                let first = sent
                sent += size
                group.addTask {
                    let records = (first..<(first + size)).map { n in
                        OutgoingRecord(topic: "raw", partition: Int32(n % 16), key: Array("client-\(n % 10_000)".utf8), value: value,
                                       headers: [("event-type", Array("POSITION_OPENED".utf8))])
                    }
                    return await producer.send(records).filter { if case .failure = $0 { true } else { false } }.count
                }
            }
            while sent < count && sent < inFlight * batch { add() }
            while let done = await group.next() {
                failed += done
                if sent < count { add() }
            }
            return failed
        }
        let elapsed = ContinuousClock.now - started
        guard failures == 0 else { throw KafkaError(code: -1, message: "\(failures) raw records not acknowledged") }
        return Double(count) / seconds(elapsed)
    }

    /// Rows committed per second into a temporary copy of `events` (its indexes and
    /// constraints included), `batch` rows per transaction.
    static func insertRate(databaseURL: String, count: Int, batch: Int = 2000) throws -> Double {
        let db = try PostgresConnection(url: databaseURL)
        try db.executeScript("CREATE TEMP TABLE raw_events (LIKE events INCLUDING ALL)")
        let body = "\\x" + String(repeating: "5a", count: recordSize)
        let started = ContinuousClock.now
        var first = 0
        while first < count {
            let rows = first..<min(count, first + batch)
            let ids = rows.map { _ in UUID().uuidString.lowercased() }
            let aggregates = rows.map { "raw-\($0)" }
            let clients = rows.map { "client-\($0 % 10_000)" }
            try db.transaction {
                _ = try db.execute("""
                    INSERT INTO raw_events (event_id, aggregate_id, aggregate_version, event_type, client_id, occurred_at,
                                            request_id, request_digest, body, topic, kafka_partition, kafka_offset, rebalancing_id)
                    SELECT e.id::uuid, e.aggregate, 1, 'POSITION_OPENED', e.client, now(), '', '', e.body, 'raw', 0, e.off, ''
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::int8[]) AS e(id, aggregate, client, body, off)
                    """, [.text(postgresArrayLiteral(ids)), .text(postgresArrayLiteral(aggregates)), .text(postgresArrayLiteral(clients)),
                          .text(postgresArrayLiteral(Array(repeating: body, count: rows.count))),
                          .text(postgresArrayLiteral(rows.map(String.init)))])
            }
            first = rows.upperBound
        }
        let elapsed = ContinuousClock.now - started
        try db.executeScript("DROP TABLE raw_events")
        return Double(count) / seconds(elapsed)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
