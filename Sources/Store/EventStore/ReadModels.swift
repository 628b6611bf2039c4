import Domain
import EventLog
import Foundation
import HoldingsProto

/// The SQL of the read models: what the projector writes in one transaction per batch
/// and what the service reads back (write-model rebuild, audit trail).
public enum ReadModels {
    /// One event to record, with where it came from in the log.
    public struct Recorded: Sendable {
        public var event: Ultracore_Holdings_V1_Event
        public var body: [UInt8]
        public var topic: String
        public var partition: Int32
        public var offset: Int64
        /// When the log received the record (its timestamp), or nil when unknown.
        public var ingestedAt: Instant?
        /// The event's quality as the projector judges it (DataQuality.assess).
        public var quality: DataQuality.Assessment

        public init(event: Ultracore_Holdings_V1_Event, body: [UInt8], topic: String, partition: Int32, offset: Int64,
                    ingestedAt: Instant? = nil) {
            (self.event, self.body, self.topic, self.partition, self.offset) = (event, body, topic, partition, offset)
            self.ingestedAt = ingestedAt
            quality = DataQuality.assess(event, ingestedAt: ingestedAt ?? event.occurredAt.flatMap(Instant.init) ?? Instant(microseconds: 0))
        }
    }

    public static func timestampText(_ instant: Instant) -> String {
        "\(instant.microseconds)"
    }

    /// Inserts the events not recorded yet and returns those that were new, in input order.
    public static func insertEvents(_ events: [Recorded], on connection: PostgresConnection) throws -> [Recorded] {
        guard !events.isEmpty else { return [] }
        var ids: [String?] = [], aggregates: [String?] = [], versions: [String?] = [], types: [String?] = []
        var clients: [String?] = [], occurred: [String?] = [], requests: [String?] = [], digests: [String?] = []
        var bodies: [String?] = [], topics: [String?] = [], partitions: [String?] = [], offsets: [String?] = []
        var runs: [String?] = [], scores: [String?] = [], failed: [String?] = [], ingested: [String?] = []
        var correlations: [String?] = [], causations: [String?] = []
        for recorded in events {
            scores.append(String(recorded.quality.score))
            failed.append(recorded.quality.failed.joined(separator: ","))
            ingested.append(recorded.ingestedAt.map { String($0.microseconds) })
            correlations.append(recorded.event.correlationId)
            causations.append(recorded.event.causationId)
            runs.append(RebalancingEvents.runId(of: recorded.event))
            let event = recorded.event
            ids.append(event.eventId)
            aggregates.append(event.aggregateId)
            versions.append(String(event.aggregateVersion))
            types.append(event.eventType.protoName ?? "EVENT_TYPE_UNSPECIFIED")
            clients.append(event.clientId)
            occurred.append(String((event.occurredAt.flatMap(Instant.init) ?? Instant(microseconds: 0)).microseconds))
            requests.append(event.requestId)
            digests.append(event.attributes[EventAttributes.requestDigest] ?? "")
            bodies.append("\\x" + hex(recorded.body))
            topics.append(recorded.topic)
            partitions.append(String(recorded.partition))
            offsets.append(String(recorded.offset))
        }
        let rows = try connection.execute("""
            INSERT INTO events (event_id, aggregate_id, aggregate_version, event_type, client_id, occurred_at,
                                request_id, request_digest, body, topic, kafka_partition, kafka_offset, rebalancing_id,
                                quality_score, failed_rules, ingested_at, correlation_id, causation_id)
            SELECT e.id::uuid, e.aggregate, e.version, e.type, e.client, to_timestamp(e.micros::float8 / 1e6),
                   e.request, e.digest, e.body, e.topic, e.part, e.off, e.run,
                   e.score, string_to_array(e.failed, ','), to_timestamp(e.ingested::float8 / 1e6), e.correlation, e.causation
            FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::int8[], $7::text[], $8::text[],
                        $9::bytea[], $10::text[], $11::int4[], $12::int8[], $13::text[], $14::int2[], $15::text[], $16::int8[],
                        $17::text[], $18::text[])
                 AS e(id, aggregate, version, type, client, micros, request, digest, body, topic, part, off, run,
                      score, failed, ingested, correlation, causation)
            ON CONFLICT DO NOTHING
            RETURNING event_id::text
            """,
            [ids, aggregates, versions, types, clients, occurred, requests, digests, bodies, topics, partitions, offsets, runs,
             scores, failed, ingested, correlations, causations]
                .map { .text(postgresArrayLiteral($0)) })
        let inserted = Set(rows.rows.compactMap { $0[0] })
        return events.filter { inserted.contains($0.event.eventId) }
    }

    /// Positions and their open lots, by id (all of them when `ids` is nil).
    public static func loadPositions(_ ids: [String]?, on connection: PostgresConnection) throws -> [String: PositionState] {
        let filter = ids == nil ? "" : "WHERE position_id = ANY($1::text[])"
        let parameters: [PostgresValue] = ids.map { [.text(postgresArrayLiteral($0))] } ?? []
        let positionRows = try connection.execute("""
            SELECT position_id, client_id, ticker, status, realized_gain::text, last_price::text,
                   (extract(epoch from last_priced_at) * 1000000)::int8, (extract(epoch from opened_at) * 1000000)::int8,
                   (extract(epoch from closed_at) * 1000000)::int8, version, (extract(epoch from updated_at) * 1000000)::int8, next_lot
            FROM positions \(filter)
            """, parameters)
        var positions: [String: PositionState] = [:]
        for row in positionRows.rows {
            guard let id = row[0], let client = row[1], let ticker = row[2], let status = row[3].flatMap(PositionStatus.init),
                  let realized = row[4].flatMap({ ExactDecimal($0) }), let opened = row[7].flatMap({ Int64($0) }),
                  let version = row[9].flatMap({ Int64($0) }), let updated = row[10].flatMap({ Int64($0) }),
                  let nextLot = row[11].flatMap({ Int($0) }) else {
                throw PostgresError(kind: .statement, sqlState: "", message: "positions row \(row[0] ?? "?") is malformed")
            }
            positions[id] = PositionState(
                positionId: id, clientId: client, ticker: ticker, status: status, lots: [], realizedGain: realized,
                lastPrice: row[5].flatMap { ExactDecimal($0) }, lastPricedAt: row[6].flatMap { Int64($0) }.map(Instant.init),
                openedAt: Instant(microseconds: opened), closedAt: row[8].flatMap { Int64($0) }.map(Instant.init),
                version: version, updatedAt: Instant(microseconds: updated), nextLot: nextLot)
        }
        let lotRows = try connection.execute("""
            SELECT position_id, lot_id, seq, (extract(epoch from acquired_at) * 1000000)::int8, quantity::text,
                   original_quantity::text, cost_basis::text, fees::text, source_event_id::text,
                   (extract(epoch from holding_start) * 1000000)::int8, wash_sale_adjustment::text
            FROM lots \(filter) ORDER BY position_id, seq
            """, parameters)
        for row in lotRows.rows {
            guard let id = row[0], positions[id] != nil, let lotId = row[1], let seq = row[2].flatMap({ Int($0) }),
                  let acquired = row[3].flatMap({ Int64($0) }), let quantity = row[4].flatMap({ ExactDecimal($0) }),
                  let original = row[5].flatMap({ ExactDecimal($0) }), let basis = row[6].flatMap({ ExactDecimal($0) }),
                  let fees = row[7].flatMap({ ExactDecimal($0) }), let source = row[8] else {
                throw PostgresError(kind: .statement, sqlState: "", message: "lots row \(row[0] ?? "?")/\(row[1] ?? "?") is malformed")
            }
            positions[id]!.lots.append(LotState(
                lotId: lotId, sequence: seq, acquiredAt: Instant(microseconds: acquired), quantity: quantity,
                originalQuantity: original, costBasis: basis, fees: fees, sourceEventId: source,
                holdingStart: row[9].flatMap { Int64($0) }.map(Instant.init), washSaleAdjustment: row[10].flatMap { ExactDecimal($0) }))
        }
        for id in positions.keys { positions[id]?.orderLots() }
        return positions
    }

    /// Writes the new state of `positions` (row and open lots); `before` is what Postgres held.
    public static func savePositions(_ positions: [PositionState], before: [String: PositionState], on connection: PostgresConnection) throws {
        guard !positions.isEmpty else { return }
        func micros(_ instant: Instant?) -> String? { instant.map { String($0.microseconds) } }
        var columns = Array(repeating: [String?](), count: 13)
        for p in positions {
            let values: [String?] = [
                p.positionId, p.clientId, p.ticker, p.status.rawValue, p.quantity.description, p.costBasis.description,
                p.realizedGain.description, p.lastPrice?.description, micros(p.lastPricedAt), micros(p.openedAt),
                micros(p.closedAt), String(p.version), micros(p.updatedAt),
            ]
            for (index, value) in values.enumerated() { columns[index].append(value) }
        }
        let nextLots: [String?] = positions.map { String($0.nextLot) }
        try connection.execute("""
            INSERT INTO positions (position_id, client_id, ticker, status, quantity, cost_basis, realized_gain, last_price,
                                   last_priced_at, opened_at, closed_at, version, updated_at, next_lot)
            SELECT id, client, ticker, status, quantity::numeric, basis::numeric, realized::numeric, price::numeric,
                   to_timestamp(priced::float8 / 1e6), to_timestamp(opened::float8 / 1e6), to_timestamp(closed::float8 / 1e6),
                   version, to_timestamp(updated::float8 / 1e6), next_lot
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                        $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int4[])
                 AS p(id, client, ticker, status, quantity, basis, realized, price, priced, opened, closed, version, updated, next_lot)
            ON CONFLICT (position_id) DO UPDATE SET
                status = excluded.status, quantity = excluded.quantity, cost_basis = excluded.cost_basis,
                realized_gain = excluded.realized_gain, last_price = excluded.last_price,
                last_priced_at = excluded.last_priced_at, closed_at = excluded.closed_at, version = excluded.version,
                updated_at = excluded.updated_at, next_lot = excluded.next_lot
            """, (columns + [nextLots]).map { .text(postgresArrayLiteral($0)) })
        // Lots: delete the ones gone, upsert only the ones that changed (a sale touches a few
        // of a position's lots; rewriting all of them made big positions quadratic).
        var goneIds: [String?] = [], goneLots: [String?] = []
        var lotColumns = Array(repeating: [String?](), count: 11)
        for p in positions {
            let (gone, changed) = lotChanges(from: before[p.positionId]?.lots ?? [], to: p.lots)
            for id in gone {
                goneIds.append(p.positionId)
                goneLots.append(id)
            }
            for lot in changed {
                let values: [String?] = [
                    p.positionId, lot.lotId, String(lot.sequence), String(lot.acquiredAt.microseconds), lot.quantity.description,
                    lot.originalQuantity.description, lot.costBasis.description, lot.fees.description, lot.sourceEventId,
                    lot.holdingStart == lot.acquiredAt ? nil : String(lot.holdingStart.microseconds), lot.washSaleAdjustment?.description,
                ]
                for (index, value) in values.enumerated() { lotColumns[index].append(value) }
            }
        }
        if !goneIds.isEmpty {
            try connection.execute("""
                DELETE FROM lots l USING unnest($1::text[], $2::text[]) AS g(position_id, lot_id)
                WHERE l.position_id = g.position_id AND l.lot_id = g.lot_id
                """, [.text(postgresArrayLiteral(goneIds)), .text(postgresArrayLiteral(goneLots))])
        }
        guard !lotColumns[0].isEmpty else { return }
        try connection.execute("""
            INSERT INTO lots (position_id, lot_id, seq, acquired_at, quantity, original_quantity, cost_basis, fees, source_event_id,
                              holding_start, wash_sale_adjustment)
            SELECT id, lot, seq, to_timestamp(acquired::float8 / 1e6), quantity::numeric, original::numeric, basis::numeric,
                   fees::numeric, source::uuid, 'epoch'::timestamptz + held * interval '1 microsecond', adjustment::numeric
            FROM unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                        $10::int8[], $11::text[])
                 AS l(id, lot, seq, acquired, quantity, original, basis, fees, source, held, adjustment)
            ON CONFLICT (position_id, lot_id) DO UPDATE SET
                seq = excluded.seq, acquired_at = excluded.acquired_at, quantity = excluded.quantity,
                original_quantity = excluded.original_quantity, cost_basis = excluded.cost_basis, fees = excluded.fees,
                source_event_id = excluded.source_event_id, holding_start = excluded.holding_start,
                wash_sale_adjustment = excluded.wash_sale_adjustment
            """, lotColumns.map { .text(postgresArrayLiteral($0)) })
    }

    /// The lots of `old` that `new` no longer has (ids) and the lots of `new` that are not in
    /// `old` as they are: one walk of both lists, which are in acquisition order (a hash of
    /// every lot of a 10,000-lot position per batch was most of the projector's time).
    public static func lotChanges(from old: [LotState], to new: [LotState]) -> (gone: [String], changed: [LotState]) {
        var gone: [String] = [], changed: [LotState] = []
        var i = 0, j = 0
        while i < old.count && j < new.count {
            if old[i].lotId == new[j].lotId {
                if old[i] != new[j] { changed.append(new[j]) }
                i += 1
                j += 1
            } else if PositionState.inOrder(old[i], new[j]) {
                gone.append(old[i].lotId)
                i += 1
            } else {
                changed.append(new[j])
                j += 1
            }
        }
        gone += old[i...].map(\.lotId)
        changed += new[j...]
        // A lot that moved in the order shows as gone and changed: it is only changed.
        if !gone.isEmpty && !changed.isEmpty {
            let kept = Set(changed.map(\.lotId))
            gone.removeAll { kept.contains($0) }
        }
        return (gone, changed)
    }

    /// Stores the next offset to read of each partition.
    /// Stores the next offset of each partition, and the log timestamp (ms) of the last
    /// record applied where `times` has it (the time lag of ListMaterializedViews).
    public static func saveOffsets(group: String, _ offsets: [PartitionKey: Int64], times: [PartitionKey: Int64] = [:],
                                   on connection: PostgresConnection) throws {
        guard !offsets.isEmpty else { return }
        let sorted = offsets.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        try connection.execute("""
            INSERT INTO consumer_offsets (consumer_group, topic, kafka_partition, next_offset, last_record_at)
            SELECT $1, t, p, o, to_timestamp(ms::float8 / 1e3) FROM unnest($2::text[], $3::int4[], $4::int8[], $5::int8[]) AS x(t, p, o, ms)
            ON CONFLICT (consumer_group, topic, kafka_partition) DO UPDATE SET next_offset = excluded.next_offset,
                last_record_at = COALESCE(excluded.last_record_at, consumer_offsets.last_record_at)
            """, [.text(group), .text(postgresArrayLiteral(sorted.map { $0.key.topic })),
                  .text(postgresArrayLiteral(sorted.map { String($0.key.partition) })),
                  .text(postgresArrayLiteral(sorted.map { String($0.value) })),
                  .text(postgresArrayLiteral(sorted.map { times[$0.key].map { String($0) } }))])
    }

    /// Records when the projector applied events to each read model: the latest occurred_at
    /// per view (kept when an older event arrives) and the commit time.
    public static func saveFreshness(_ latest: [String: Instant], on connection: PostgresConnection) throws {
        guard !latest.isEmpty else { return }
        let sorted = latest.sorted { $0.key < $1.key }
        try connection.execute("""
            INSERT INTO view_freshness (view_name, last_event_at, last_applied_at)
            SELECT v, to_timestamp(us::float8 / 1e6), clock_timestamp() FROM unnest($1::text[], $2::int8[]) AS x(v, us)
            ON CONFLICT (view_name) DO UPDATE SET last_event_at = greatest(view_freshness.last_event_at, excluded.last_event_at),
                last_applied_at = excluded.last_applied_at
            """, [.text(postgresArrayLiteral(sorted.map(\.key))), .text(postgresArrayLiteral(sorted.map { String($0.value.microseconds) }))])
    }

    public static func loadOffsets(group: String, on connection: PostgresConnection) throws -> [PartitionKey: Int64] {
        let rows = try connection.execute(
            "SELECT topic, kafka_partition, next_offset FROM consumer_offsets WHERE consumer_group = $1", [.text(group)])
        var offsets: [PartitionKey: Int64] = [:]
        for row in rows.rows {
            guard let topic = row[0], let partition = row[1].flatMap({ Int32($0) }), let offset = row[2].flatMap({ Int64($0) }) else { continue }
            offsets[PartitionKey(topic: topic, partition: partition)] = offset
        }
        return offsets
    }

    /// Events of one aggregate in version order, up to `version` (all when nil); the trades
    /// of a rebalancing run that did not complete (yet) are marked void.
    public static func events(aggregate: String, upTo version: Int64?, on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_Event] {
        let rows = try connection.execute("""
            SELECT e.body, e.event_type = 'TRADE_EXECUTED' AND coalesce(r.outcome, '') <> 'COMPLETED'
            FROM events e LEFT JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id AND e.rebalancing_id <> ''
            WHERE e.aggregate_id = $1 AND e.aggregate_version <= $2 ORDER BY e.aggregate_version
            """, [.text(aggregate), .text(String(version ?? Int64.max))])
        return try rows.rows.map { row in
            guard let text = row[0], let bytes = decodeBytea(text) else {
                throw PostgresError(kind: .statement, sqlState: "", message: "event body of \(aggregate) is not bytea")
            }
            var event = try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
            if row[1] == "t" { event.attributes[RebalancingEvents.voidAttribute] = "true" }
            return event
        }
    }

    /// The TRADE_EXECUTED events of a rebalancing run, in log order.
    public static func runTrades(_ rebalancingId: String, on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_Event] {
        let rows = try connection.execute("""
            SELECT body FROM events WHERE rebalancing_id = $1 AND event_type = 'TRADE_EXECUTED' ORDER BY kafka_offset
            """, [.text(rebalancingId)])
        return try rows.rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea) else { return nil }
            return try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
        }
    }

    /// How a rebalancing run ended ("COMPLETED" or "ABORTED"); nil while it has not.
    public static func runOutcome(_ rebalancingId: String, on connection: PostgresConnection) throws -> String? {
        try connection.execute("SELECT outcome FROM rebalancing_runs WHERE rebalancing_id = $1", [.text(rebalancingId)]).rows.first?[0] ?? nil
    }

    public static func recordRun(_ rebalancingId: String, client: String, completed: Bool, at: Instant, on connection: PostgresConnection) throws {
        _ = try connection.execute("""
            INSERT INTO rebalancing_runs (rebalancing_id, client_id, outcome, decided_at)
            VALUES ($1, $2, $3, 'epoch'::timestamptz + $4::int8 * interval '1 microsecond') ON CONFLICT DO NOTHING
            """, [.text(rebalancingId), .text(client), .text(completed ? "COMPLETED" : "ABORTED"), .text(String(at.microseconds))])
    }

    /// Where a page of the audit trail stops: (occurred_at in µs, aggregate id, version) as text.
    public static let trailStart = ["-9223372036854775808", "", "0"]

    /// Up to `limit` events of the audit trail after `cursor`, in (occurred_at, aggregate_id,
    /// aggregate_version) order, filtered by client, position and type names (empty: any);
    /// each with its own cursor.
    /// `amongClients`: when given, only events of these clients (a caller's readable clients).
    public static func trail(client: String, position: String, types: [String], after cursor: [String], limit: Int,
                      amongClients: [String]? = nil,
                      on connection: PostgresConnection) throws -> [(event: Ultracore_Holdings_V1_Event, cursor: [String])] {
        let rows = try connection.execute("""
            SELECT body, (extract(epoch from occurred_at) * 1000000)::int8, aggregate_id, aggregate_version
            FROM events
            WHERE ($1 = '' OR client_id = $1) AND ($2 = '' OR aggregate_id = $2)
              AND (cardinality($3::text[]) = 0 OR event_type = ANY($3::text[]))
              AND ((extract(epoch from occurred_at) * 1000000)::int8, aggregate_id, aggregate_version) > ($4::int8, $5, $6::int8)
              AND ($8 = 'all' OR client_id = ANY($9::text[]))
            ORDER BY occurred_at, aggregate_id, aggregate_version
            LIMIT $7
            """, [.text(client), .text(position), .text(postgresArrayLiteral(types)),
                  .text(cursor[0]), .text(cursor[1]), .text(cursor[2]), .text(String(limit)),
                  .text(amongClients == nil ? "all" : "some"), .text(postgresArrayLiteral(amongClients ?? []))])
        return try rows.rows.compactMap { row in
            guard let body = row[0].flatMap(decodeBytea) else { return nil }
            return (try Ultracore_Holdings_V1_Event(serializedBytes: body), [row[1] ?? "0", row[2] ?? "", row[3] ?? "0"])
        }
    }

    /// Every sale event of a client (LOTS_SOLD, POSITION_CLOSED, the sells of completed
    /// rebalancing runs), in log order per position.
    public static func sales(client: String, on connection: PostgresConnection) throws -> [Ultracore_Holdings_V1_Event] {
        let rows = try connection.execute("""
            SELECT e.body FROM events e LEFT JOIN rebalancing_runs r ON r.rebalancing_id = e.rebalancing_id AND e.rebalancing_id <> ''
            WHERE e.client_id = $1 AND (e.event_type IN ('LOTS_SOLD', 'POSITION_CLOSED', 'CORPORATE_ACTION_APPLIED')
                                        OR (e.event_type = 'TRADE_EXECUTED' AND r.outcome = 'COMPLETED'))
            ORDER BY e.occurred_at, e.aggregate_id, e.aggregate_version
            """, [.text(client)])
        return try rows.rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea) else { return nil }
            return try Ultracore_Holdings_V1_Event(serializedBytes: bytes)
        }
    }

    /// One row of `valuation_history`: a position's market value from `at` on.
    public struct Valuation: Sendable {
        public var eventId: String
        public var client: String
        public var position: String
        public var at: Instant
        public var marketValue: ExactDecimal
        public var offset: Int64

        public init(eventId: String, client: String, position: String, at: Instant, marketValue: ExactDecimal, offset: Int64) {
            (self.eventId, self.client, self.position, self.at, self.marketValue, self.offset) = (eventId, client, position, at, marketValue, offset)
        }

        /// The valuation an event records: POSITION_VALUED (its market value) or a close (0).
        public init?(_ recorded: Recorded) {
            let event = recorded.event
            switch event.payload {
            case .positionValued(let valued)?:
                guard let value = ExactDecimal(valued.marketValue), let at = valued.pricedAt.flatMap(Instant.init) else { return nil }
                (marketValue, self.at) = (value, at)
            case .positionClosed(let closed)?:
                guard let at = closed.closedAt.flatMap(Instant.init) else { return nil }
                (marketValue, self.at) = (.zero, at)
            default:
                return nil
            }
            (eventId, client, position, offset) = (event.eventId, event.clientId, event.aggregateId, recorded.offset)
        }
    }

    public static func insertValuations(_ rows: [Valuation], on connection: PostgresConnection) throws {
        guard !rows.isEmpty else { return }
        _ = try connection.execute("""
            INSERT INTO valuation_history (event_id, client_id, position_id, valued_at, market_value, kafka_offset)
            SELECT v.id::uuid, v.client, v.position, 'epoch'::timestamptz + v.micros * interval '1 microsecond', v.value, v.off
            FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::numeric[], $6::int8[])
                 AS v(id, client, position, micros, value, off)
            ON CONFLICT DO NOTHING
            """, [.text(postgresArrayLiteral(rows.map(\.eventId))), .text(postgresArrayLiteral(rows.map(\.client))),
                  .text(postgresArrayLiteral(rows.map(\.position))), .text(postgresArrayLiteral(rows.map { String($0.at.microseconds) })),
                  .text(postgresArrayLiteral(rows.map(\.marketValue.description))), .text(postgresArrayLiteral(rows.map { String($0.offset) }))])
    }

    /// A client's portfolio value at each valuation instant in [from, to]: the sum of every
    /// position's last valuation at or before that instant (exact, then as a double).
    public static func valuationSeries(client: String, from start: Instant?, to end: Instant,
                                on connection: PostgresConnection) throws -> [(time: Instant, value: Double)] {
        let rows = try connection.execute("""
            SELECT position_id, (extract(epoch from valued_at) * 1000000)::int8, market_value::text
            FROM valuation_history WHERE client_id = $1 AND valued_at <= 'epoch'::timestamptz + $2::int8 * interval '1 microsecond'
            ORDER BY valued_at, kafka_offset
            """, [.text(client), .text(String(end.microseconds))])
        var latest: [String: ExactDecimal] = [:]
        var total = ExactDecimal.zero
        var points: [(time: Instant, value: ExactDecimal)] = []
        for row in rows.rows {
            guard let position = row[0], let micros = row[1].flatMap({ Int64($0) }),
                  let value = row[2].flatMap({ ExactDecimal($0) }) else { continue }
            total = try total.subtracting(latest[position] ?? .zero).adding(value)
            latest[position] = value
            let time = Instant(microseconds: micros)
            if let start, time < start { continue }
            if points.last?.time == time { points[points.count - 1].value = total } else { points.append((time, total)) }
        }
        return points.map { ($0.time, $0.value.doubleValue) }
    }

    /// Stores a schedule as of its event `version` (an older version never overwrites a newer).
    public static func saveSchedule(_ schedule: Ultracore_Holdings_V1_RebalancingSchedule, version: Int64, on connection: PostgresConnection) throws {
        let next = schedule.nextRunAt.flatMap(Instant.init) ?? Instant(microseconds: 0)
        _ = try connection.execute("""
            INSERT INTO rebalancing_schedules (schedule_id, client_id, version, body, enabled, next_run_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, 'epoch'::timestamptz + $6::int8 * interval '1 microsecond', clock_timestamp())
            ON CONFLICT (schedule_id) DO UPDATE SET version = EXCLUDED.version, body = EXCLUDED.body, enabled = EXCLUDED.enabled,
                next_run_at = EXCLUDED.next_run_at, updated_at = EXCLUDED.updated_at
            WHERE rebalancing_schedules.version < EXCLUDED.version
            """, [.text(schedule.scheduleId), .text(schedule.clientId), .text(String(version)), .bytes(schedule.serializedBytes()),
                  .text(schedule.enabled ? "true" : "false"), .text(String(next.microseconds))])
    }

    /// Every stored schedule with its version.
    public static func loadSchedules(on connection: PostgresConnection) throws -> [(schedule: Ultracore_Holdings_V1_RebalancingSchedule, version: Int64)] {
        let rows = try connection.execute("SELECT body, version FROM rebalancing_schedules ORDER BY schedule_id", [])
        return try rows.rows.compactMap { row in
            guard let bytes = row[0].flatMap(decodeBytea), let version = row[1].flatMap({ Int64($0) }) else { return nil }
            return (try Ultracore_Holdings_V1_RebalancingSchedule(serializedBytes: bytes), version)
        }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A topic partition.
public struct PartitionKey: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// Names of `Event.attributes` the service sets.
public enum EventAttributes {
    /// Fingerprint of the request that produced the event (see RequestFingerprint).
    public static let requestDigest = "request-digest"
}
