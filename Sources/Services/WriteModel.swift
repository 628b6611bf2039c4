import Domain
import EventLog
import Foundation
import HoldingsProto
import RPCCore
import Store
import Synchronization

/// The command side: every position in memory, one writer per client (a client's
/// portfolio is the unit of serialization), events produced to Kafka keyed by aggregate
/// id and applied to memory only after the broker acknowledged them.
///
/// Rebuilt at start from the Postgres read models once the projector has stored the
/// whole Kafka tail (every offset below the high watermarks seen at start).
public final class WriteModel: Sendable {
    struct RequestRecord: Sendable {
        var fingerprint: String
        var aggregateId: String
        var version: Int64
        var eventId: String
    }

    struct PriceRequest: Sendable {
        var fingerprint: String
        var valued: Set<String>
        var response: Ultracore_Holdings_V1_PublishPricesResponse?
    }

    struct State: Sendable {
        var positions: [String: PositionState] = [:]
        /// client → ticker → id of the open position.
        var openByTicker: [String: [String: String]] = [:]
        /// client → position ids, ordered by (opened_at, position_id).
        var byClient: [String: [String]] = [:]
        /// "client\0request_id" → outcome.
        var requests: [String: RequestRecord] = [:]
        /// Clients whose last write may or may not be in the log; refused until confirmed.
        var unconfirmed: Set<String> = []
        /// ticker → ids of the open positions in it (every client).
        var holders: [String: Set<String>] = [:]
        /// Multi-client request ids (PublishPrices, ApplyCorporateAction) being executed.
        var batchesInFlight: Set<String> = []
        /// PublishPrices request id → its progress and, once complete, its outcome.
        var priceRequests: [String: PriceRequest] = [:]
        /// Rebalancing plans by id (kept 24 hours, in memory).
        var plans: [String: StoredPlan] = [:]
        /// plan id → the completed execution (a plan executes once).
        var executions: [String: Execution] = [:]
        /// "client\0ticker" → losses of sales with shares not yet matched by replacement shares.
        var washLosses: [String: [WashLoss]] = [:]
        /// client id → its schedule and the schedule's aggregate version.
        var schedules: [String: (schedule: Ultracore_Holdings_V1_RebalancingSchedule, version: Int64)] = [:]
    }

    let producer: EventProducer
    let gate: ProjectionGate
    let topics: KafkaConfiguration.Topics
    let partitions: Int32
    let pool: PostgresPool
    let source: String
    let projectorGroup: String
    /// With the embedded broker (a log in this process's memory), how long a write waits for
    /// Postgres to commit it before it is answered; nil with a real cluster, whose ack is the
    /// commit point.
    let ackAfterProjection: Duration?
    let state = Mutex(State())
    let locks = KeyedLock()
    /// Acknowledged events, live, for WatchEvents.
    public let broadcaster: EventBroadcaster

    public init(producer: EventProducer, gate: ProjectionGate, topics: KafkaConfiguration.Topics, partitions: Int32,
                pool: PostgresPool, projectorGroup: String, watchBuffer: Int = 10_000, source: String = "holdingsd",
                ackAfterProjection: Duration? = nil) {
        self.ackAfterProjection = ackAfterProjection
        self.broadcaster = EventBroadcaster(capacity: watchBuffer)
        self.projectorGroup = projectorGroup
        self.producer = producer
        self.gate = gate
        self.topics = topics
        self.partitions = partitions
        self.pool = pool
        self.source = source
    }

    // MARK: Rebuild

    /// Waits until the projector stored every event below the current high watermarks,
    /// then loads positions and request outcomes from Postgres. Throws when the log lost
    /// events the projector never stored.
    public func rebuild(progress: @escaping @Sendable (String) -> Void) async throws {
        let producer = self.producer
        let topics = self.topics
        let partitions = self.partitions
        let marks: [PartitionKey: (low: Int64, high: Int64)] = try await Blocking.run {
            var marks: [PartitionKey: (low: Int64, high: Int64)] = [:]
            for topic in topics.all {
                for partition in 0..<partitions {
                    marks[PartitionKey(topic: topic, partition: partition)] = try producer.watermarks(topic: topic, partition: partition)
                }
            }
            return marks
        }
        let key = OffsetsKey.of(group: projectorGroup, clusterId: try await Blocking.run { try producer.clusterId() })
        let stored = try await pool.withConnection { try ReadModels.loadOffsets(group: key, on: $0) }
        for (key, mark) in marks where mark.low > (stored[key] ?? 0) {
            throw RPCError(.dataLoss, "\(key): the log starts at offset \(mark.low) but Postgres holds events only below \(stored[key] ?? 0); events were lost")
        }
        let targets = marks.filter { $0.value.high > 0 }.mapValues(\.high)
        let tail = targets.reduce(Int64(0)) { $0 + $1.value - (stored[$1.key] ?? 0) }
        progress("rebuilding: \(tail) events in the Kafka tail after the stored offsets")
        while !(await gate.waitProjected(targets, timeout: .seconds(5))) {
            let behind = gate.projectedSnapshot
            let remaining = targets.reduce(Int64(0)) { $0 + max(0, $1.value - (behind[$1.key] ?? 0)) }
            progress("waiting for the projector: \(remaining) events of the tail not stored yet")
        }
        let positions = try await pool.withConnection { try ReadModels.loadPositions(nil, on: $0) }
        let requests = try await pool.withConnection { try Self.loadRequests(on: $0) }
        let schedules = try await pool.withConnection { try ReadModels.loadSchedules(on: $0) }
        let quarantined = try await pool.withConnection { try ReadModels.quarantinedAggregates(on: $0) }
        let washLosses = try await pool.withConnection { try ReadModels.loadWashLosses(on: $0) }
        gate.quarantine(quarantined)
        state.withLock { state in
            state = State()
            for (schedule, version) in schedules { state.schedules[schedule.clientId] = (schedule, version) }
            for position in positions.values { Self.index(position, in: &state) }
            for key in state.byClient.keys { Self.sort(client: key, in: &state) }
            state.requests = requests
            state.washLosses = washLosses
        }
        progress("write model rebuilt: \(positions.count) positions, \(requests.count) request ids"
                 + (quarantined.isEmpty ? "" : ", \(quarantined.count) aggregates quarantined by dead letters"))
    }

    private static func loadRequests(client: String? = nil, on connection: PostgresConnection) throws -> [String: RequestRecord] {
        let rows = try connection.execute("""
            SELECT client_id, request_id, request_digest, aggregate_id, aggregate_version, event_id::text
            FROM events WHERE request_id <> '' AND ($1 = '' OR client_id = $1)
            """, [.text(client ?? "")])
        var requests: [String: RequestRecord] = [:]
        for row in rows.rows {
            guard let client = row[0], let request = row[1], let digest = row[2], let aggregate = row[3],
                  let version = row[4].flatMap({ Int64($0) }), let eventId = row[5] else { continue }
            requests[client + "\u{0}" + request] = RequestRecord(
                fingerprint: digest, aggregateId: aggregate, version: version, eventId: eventId)
        }
        return requests
    }

    static func index(_ position: PositionState, in state: inout State) {
        let isNew = state.positions[position.positionId] == nil
        state.positions[position.positionId] = position
        if isNew { state.byClient[position.clientId, default: []].append(position.positionId) }
        if position.status == .open {
            state.holders[position.ticker, default: []].insert(position.positionId)
        } else {
            state.holders[position.ticker]?.remove(position.positionId)
        }
        if position.status == .open {
            state.openByTicker[position.clientId, default: [:]][position.ticker] = position.positionId
        } else if state.openByTicker[position.clientId]?[position.ticker] == position.positionId {
            state.openByTicker[position.clientId]?[position.ticker] = nil
        }
    }

    /// Records an applied event in the wash-sale ledger of its client and ticker.
    static func ledger(_ event: Ultracore_Holdings_V1_Event, ticker: String, in state: inout State) {
        let key = WashSales.ledgerKey(client: event.clientId, ticker: ticker)
        var losses = state.washLosses[key] ?? []
        WashSales.apply(event, to: &losses)
        state.washLosses[key] = losses.isEmpty ? nil : losses
    }

    static func sort(client: String, in state: inout State) {
        let positions = state.positions
        state.byClient[client]?.sort {
            let a = positions[$0]!, b = positions[$1]!
            return (a.openedAt, a.positionId) < (b.openedAt, b.positionId)
        }
    }

    // MARK: Commands

    /// Runs one command of `client` under its writer: a known `requestId` returns the first
    /// outcome (`respond` over the position as of that event); otherwise `decide` (on the
    /// current state) gives the event, which is produced, acknowledged, applied, and answered
    /// by `respond`.
    private func execute<Response: Sendable>(
        client: String, requestId: String, fingerprint: String, now: Instant,
        decide: @Sendable (borrowing State) throws -> Ultracore_Holdings_V1_Event,
        respond: @Sendable @escaping (PositionState, Ultracore_Holdings_V1_Event) throws -> Response
    ) async throws -> Response {
        try await locks.withLock(client) {
            try self.refuseIfUnconfirmed(client)
            if !requestId.isEmpty, let record = state.withLock({ $0.requests[client + "\u{0}" + requestId] }) {
                guard record.fingerprint == fingerprint else {
                    throw RPCError(.invalidArgument, "request_id \(requestId) was already used by a different request")
                }
                let (position, event) = try await self.replay(record)
                return try respond(position, event)
            }
            // Decide the event, then apply it with the function the projector uses: an event that
            // would not apply (or whose result leaves the documented ranges) is refused here,
            // before it is produced, so the log never holds what the read model cannot take.
            var (event, position) = try state.withLock { state in
                let event = try decide(state)
                try self.refuseIfQuarantined(event.aggregateId)
                return (event, try PositionState.next(state.positions[event.aggregateId], event))
            }
            if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
            try await self.record(event, client: client)
            // Nothing else of this client changed meanwhile (its writer is held), so `position` is current.
            state.withLock { state in
                let isNew = state.positions[position.positionId] == nil
                Self.index(position, in: &state)
                Self.ledger(event, ticker: position.ticker, in: &state)
                if isNew { Self.sort(client: client, in: &state) }
                if !requestId.isEmpty {
                    state.requests[client + "\u{0}" + requestId] = RequestRecord(
                        fingerprint: fingerprint, aggregateId: position.positionId, version: position.version, eventId: event.eventId)
                }
            }
            broadcaster.publish([event])
            return try respond(position, event)
        }
    }

    func context(_ method: String, requestId: String, now: Instant) -> EventContext {
        let eventId = UUIDText.random()
        return EventContext(
            eventId: eventId, occurredAt: now, correlationId: requestId.isEmpty ? eventId : requestId,
            causationId: requestId.isEmpty ? eventId : requestId, source: "\(source)/\(method)", requestId: requestId,
            actor: Principal.current?.description ?? "holdingsd")
    }

    func checkedRequestId(_ requestId: String) throws -> String {
        if !requestId.isEmpty { _ = try Validation.identifier(requestId, field: "request_id") }
        return requestId
    }

    /// Buys shares (HoldingsService.OpenPosition).
    public func openPosition(_ request: Ultracore_Holdings_V1_OpenPositionRequest) async throws -> Ultracore_Holdings_V1_OpenPositionResponse {
        let now = Instant.now
        let command = try OpenPositionCommand(request, now: now)
        let requestId = try checkedRequestId(request.requestId)
        let context = context("HoldingsService.OpenPosition", requestId: requestId, now: now)
        return try await execute(
            client: command.clientId, requestId: requestId, fingerprint: RequestFingerprint.of(request), now: now,
            decide: { state in
                let existing = state.openByTicker[command.clientId]?[command.ticker].flatMap { state.positions[$0] }
                return try command.decide(existing: existing, newPositionId: "pos-" + UUIDText.random(), context: context,
                                          washLosses: state.washLosses[WashSales.ledgerKey(client: command.clientId, ticker: command.ticker)] ?? [])
            },
            respond: { position, event in
                var response = Ultracore_Holdings_V1_OpenPositionResponse()
                response.position = position.proto(now: now)
                let bought: Ultracore_Holdings_V1_Lot?
                switch event.payload {
                case .positionOpened(let opened)?: bought = opened.lot
                case .lotAdded(let added)?: bought = added.lot
                default: bought = nil
                }
                response.lot = response.position?.lots.first { $0.lotId == bought?.lotId } ?? bought
                response.created = event.eventType == .positionOpened
                response.eventId = event.eventId
                return response
            })
    }

    /// Sells shares of a client's open position in a ticker (CostBasisService.SellLots);
    /// a dry run decides the same sale and emits nothing.
    public func sellLots(_ request: Ultracore_Holdings_V1_SellLotsRequest) async throws -> Ultracore_Holdings_V1_SellLotsResponse {
        let now = Instant.now
        let command = try SellCommand(request, now: now)
        let requestId = try checkedRequestId(request.requestId)
        let context = context("CostBasisService.SellLots", requestId: requestId, now: now)
        let client = request.clientId, ticker = request.ticker
        @Sendable func open(_ state: borrowing State) throws -> PositionState {
            guard let position = state.openByTicker[client]?[ticker].flatMap({ state.positions[$0] }) else {
                throw RPCError(.notFound, "client \(client) holds no open \(ticker) position")
            }
            return position
        }
        @Sendable func respond(_ position: PositionState, _ event: Ultracore_Holdings_V1_Event?, _ realized: [Ultracore_Holdings_V1_RealizedLot], dryRun: Bool) -> Ultracore_Holdings_V1_SellLotsResponse {
            var response = Ultracore_Holdings_V1_SellLotsResponse()
            response.realized = realized
            response.dryRun = dryRun
            response.position = position.proto(now: now)
            response.eventId = event?.eventId ?? ""
            var proceeds = ExactDecimal.zero, basis = ExactDecimal.zero
            for lot in realized {
                proceeds = (try? proceeds.adding(ExactDecimal(lot.proceeds) ?? .zero)) ?? proceeds
                basis = (try? basis.adding(ExactDecimal(lot.costBasis) ?? .zero)) ?? basis
            }
            response.totalProceeds = proceeds.description
            response.totalCostBasis = basis.description
            response.gains = Gains.summary(realized: realized)
            return response
        }
        if request.dryRun {
            // Exactly what the sale would answer (the position after it, realized gain, status,
            // version), minus the event.
            let (after, event) = try state.withLock { state in
                let position = try open(state)
                let event = try command.decide(position, context: context).event
                return (try PositionState.next(position, event), event)
            }
            return respond(after, nil, Self.realized(of: event), dryRun: true)
        }
        return try await execute(
            client: client, requestId: requestId, fingerprint: RequestFingerprint.of(request), now: now,
            decide: { state in try command.decide(try open(state), context: context).event },
            respond: { position, event in respond(position, event, Self.realized(of: event), dryRun: false) })
    }

    /// Sells every share of a position (HoldingsService.ClosePosition).
    public func closePosition(_ request: Ultracore_Holdings_V1_ClosePositionRequest) async throws -> Ultracore_Holdings_V1_ClosePositionResponse {
        let now = Instant.now
        let command = try SellCommand(request, now: now)
        let requestId = try checkedRequestId(request.requestId)
        let context = context("HoldingsService.ClosePosition", requestId: requestId, now: now)
        let client = try owner(of: request.positionId)
        let positionId = request.positionId
        return try await execute(
            client: client, requestId: requestId, fingerprint: RequestFingerprint.of(request), now: now,
            decide: { state in
                guard let position = state.positions[positionId] else { throw RPCError(.notFound, "position \(positionId) not found") }
                return try command.decide(position, context: context).event
            },
            respond: { position, event in
                var response = Ultracore_Holdings_V1_ClosePositionResponse()
                response.position = position.proto(now: now)
                response.realized = Self.realized(of: event)
                response.gains = Gains.summary(realized: response.realized)
                response.eventId = event.eventId
                return response
            })
    }

    /// Marks a position to a price (HoldingsService.UpdatePositionValue).
    public func updatePositionValue(_ request: Ultracore_Holdings_V1_UpdatePositionValueRequest) async throws -> Ultracore_Holdings_V1_UpdatePositionValueResponse {
        let now = Instant.now
        _ = try Validation.identifier(request.positionId, field: "position_id")
        let price = try Validation.price(request.price, field: "price")
        let pricedAt = try Validation.tradeTime(request.pricedAt, now: now, field: "priced_at")
        let requestId = try checkedRequestId(request.requestId)
        let context = context("HoldingsService.UpdatePositionValue", requestId: requestId, now: now)
        let client = try owner(of: request.positionId)
        let positionId = request.positionId
        return try await execute(
            client: client, requestId: requestId, fingerprint: RequestFingerprint.of(request), now: now,
            decide: { state in
                guard let position = state.positions[positionId] else { throw RPCError(.notFound, "position \(positionId) not found") }
                return try Valuation.decide(position, price: price, pricedAt: pricedAt, context: context)
            },
            respond: { position, event in
                var response = Ultracore_Holdings_V1_UpdatePositionValueResponse()
                response.position = position.proto(now: now)
                response.eventId = event.eventId
                return response
            })
    }

    /// Revalues every open position in the quoted tickers (HoldingsService.PublishPrices):
    /// one POSITION_VALUED per position, written by each client's writer, clients in parallel.
    /// A retry with the same request_id values only what the first attempt did not.
    public func publishPrices(_ request: Ultracore_Holdings_V1_PublishPricesRequest) async throws -> Ultracore_Holdings_V1_PublishPricesResponse {
        let now = Instant.now
        guard !request.prices.isEmpty, request.prices.count <= 10_000 else {
            throw DomainError.invalidArgument(field: "prices", reason: "must hold 1 to 10,000 quotes, not \(request.prices.count)")
        }
        var quotes: [String: (price: ExactDecimal, at: Instant)] = [:]
        var order: [String] = []
        for (index, quote) in request.prices.enumerated() {
            let ticker: String
            do { ticker = try Validation.ticker(quote.ticker) } catch {
                throw DomainError.invalidArgument(field: "prices[\(index)].ticker", reason: "must be 1–12 characters of A–Z, 0–9, '.', '-'")
            }
            guard quotes[ticker] == nil else {
                throw DomainError.invalidArgument(field: "prices[\(index)].ticker", reason: "\(ticker) is quoted twice")
            }
            let price = try Validation.price(quote.price, field: "prices[\(index)].price")
            let at = try Validation.tradeTime(quote.pricedAt, now: now, field: "prices[\(index)].priced_at")
            quotes[ticker] = (price, at)
            order.append(ticker)
        }
        let requestId = try checkedRequestId(request.requestId)
        let fingerprint = RequestFingerprint.of(request)
        var alreadyValued = Set<String>()
        if !requestId.isEmpty { try claimBatch(requestId) }
        defer { if !requestId.isEmpty { releaseBatch(requestId) } }
        if !requestId.isEmpty {
            if let known = state.withLock({ $0.priceRequests[requestId] }) {
                guard known.fingerprint == fingerprint else {
                    throw RPCError(.invalidArgument, "request_id \(requestId) was already used by a different request")
                }
                if let response = known.response { return response }
                alreadyValued = known.valued
            } else {
                // Not seen since start: what did an earlier process record for it?
                try await waitForAuditTrail()
                let recorded = try await pool.withConnection { connection in
                    try connection.execute("""
                        SELECT aggregate_id, request_digest FROM events
                        WHERE request_id = $1 AND event_type = 'POSITION_VALUED' AND body IS NOT NULL
                        """, [.text(requestId)]).rows
                }
                if let digest = recorded.first?[1], digest != fingerprint {
                    throw RPCError(.invalidArgument, "request_id \(requestId) was already used by a different request")
                }
                alreadyValued = Set(recorded.compactMap { $0[0] })
            }
            let seed = alreadyValued
            state.withLock { $0.priceRequests[requestId] = PriceRequest(fingerprint: fingerprint, valued: seed, response: nil) }
        }
        // Positions to value, by client.
        let byClient = holdersByClient(of: order, excluding: alreadyValued)
        let context = context("HoldingsService.PublishPrices", requestId: requestId, now: now)
        let quoted = quotes
        let outcome = await applyToClients(byClient, requestId: requestId, fingerprint: fingerprint) { position in
            guard position.status == .open, let quote = quoted[position.ticker] else { return nil }
            var eventContext = context
            eventContext.eventId = UUIDText.random()
            return try Valuation.decide(position, price: quote.price, pricedAt: quote.at, context: eventContext)
        }
        let outcomeValued = outcome.recorded.map(\.aggregateId)
        let (valuedNow, outcomeError) = (outcomeValued, outcome.error)
        if !requestId.isEmpty {
            state.withLock { $0.priceRequests[requestId]?.valued.formUnion(valuedNow) }
        }
        if let error = outcomeError { throw error }
        var response = Ultracore_Holdings_V1_PublishPricesResponse()
        response.positionsRevalued = Int32(alreadyValued.count + valuedNow.count)
        response.unheldTickers = state.withLock { state in order.filter { (state.holders[$0] ?? []).isEmpty } }
        if !requestId.isEmpty {
            let done = response
            state.withLock { $0.priceRequests[requestId]?.response = done }
        }
        return response
    }

    /// Decides and records one event per position of `ids` (positions of `client`) under the
    /// client's writer; returns the events recorded and the first failure.
    private func applyEach(_ ids: [String], of client: String, requestId: String, fingerprint: String,
                           decide: @Sendable (PositionState) throws -> Ultracore_Holdings_V1_Event?) async -> (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?) {
        do {
            return try await locks.withLock(client) {
                try self.refuseIfUnconfirmed(client)
                var decisionError: (any Error)?
                // Each event decided and applied (the projector's function) before anything is produced.
                let decided: [(event: Ultracore_Holdings_V1_Event, after: PositionState)] = state.withLock { state in
                    ids.compactMap { id in
                        guard let position = state.positions[id] else { return nil }
                        do {
                            guard var event = try decide(position) else { return nil }
                            try self.refuseIfQuarantined(id)
                            if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
                            return (event, try PositionState.next(position, event))
                        } catch {
                            if decisionError == nil { decisionError = error }
                            return nil
                        }
                    }
                }
                let events = decided.map(\.event)
                let results = await recordAll(events, client: client)
                let recorded = zip(decided, results).compactMap { $1 == nil ? $0 : nil }
                broadcaster.publish(recorded.map(\.event))
                state.withLock { state in
                    for item in recorded {
                        Self.index(item.after, in: &state)
                        Self.ledger(item.event, ticker: item.after.ticker, in: &state)
                    }
                }
                return (recorded.map(\.event), decisionError ?? results.compactMap { $0 }.first)
            }
        } catch {
            return ([], error)
        }
    }

    /// Runs `applyEach` for every client of `byClient`, 64 clients at a time.
    private func applyToClients(_ byClient: [String: [String]], requestId: String, fingerprint: String,
                                decide: @escaping @Sendable (PositionState) throws -> Ultracore_Holdings_V1_Event?) async -> (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?) {
        await withTaskGroup(of: (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?).self) { group in
            var pending = byClient.makeIterator()
            var running = 0
            var recorded: [Ultracore_Holdings_V1_Event] = []
            var firstError: (any Error)?
            func startNext() -> Bool {
                guard let (client, ids) = pending.next() else { return false }
                group.addTask { await self.applyEach(ids, of: client, requestId: requestId, fingerprint: fingerprint, decide: decide) }
                return true
            }
            while running < 64, startNext() { running += 1 }
            while let result = await group.next() {
                recorded += result.recorded
                if firstError == nil { firstError = result.error }
                if !startNext() { running -= 1 }
            }
            return (recorded, firstError)
        }
    }

    /// Applies a split or a dividend to every open position in the ticker
    /// (HoldingsService.ApplyCorporateAction): one CORPORATE_ACTION_APPLIED per position,
    /// all with one action id. A retry with the same request_id completes what the first
    /// attempt did not and returns every result.
    public func applyCorporateAction(_ request: Ultracore_Holdings_V1_ApplyCorporateActionRequest) async throws -> Ultracore_Holdings_V1_ApplyCorporateActionResponse {
        let now = Instant.now
        let action = try CorporateAction(request, now: now)
        let requestId = try checkedRequestId(request.requestId)
        let fingerprint = RequestFingerprint.of(request)
        var earlier: [Ultracore_Holdings_V1_CorporateActionApplied] = []
        if !requestId.isEmpty {
            try claimBatch(requestId)
        }
        defer { if !requestId.isEmpty { releaseBatch(requestId) } }
        if !requestId.isEmpty {
            try await waitForAuditTrail()
            let rows = try await pool.withConnection { connection in
                try connection.execute("""
                    SELECT body, request_digest FROM events WHERE request_id = $1 AND event_type = 'CORPORATE_ACTION_APPLIED'
                    """, [.text(requestId)]).rows
            }
            if let digest = rows.first?[1], digest != fingerprint {
                throw RPCError(.invalidArgument, "request_id \(requestId) was already used by a different request")
            }
            for row in rows {
                guard let body = row[0].flatMap(decodeBytea), let event = try? Ultracore_Holdings_V1_Event(serializedBytes: body),
                      case .corporateActionApplied(let applied)? = event.payload else { continue }
                earlier.append(applied)
            }
        }
        let actionId = earlier.first?.actionId ?? ("ca-" + UUIDText.random())
        let done = Set(earlier.map(\.positionId))
        let byClient = holdersByClient(of: [action.ticker], excluding: done)
        let context = context("HoldingsService.ApplyCorporateAction", requestId: requestId, now: now)
        // Refuse bad input (a split fraction without a cash-in-lieu price, …) before any holder is touched.
        let snapshot = state.withLock { state in byClient.values.flatMap { $0 }.compactMap { state.positions[$0] } }
        for position in snapshot {
            _ = try action.decide(position, actionId: actionId, context: context)
        }
        let (recorded, error) = await applyToClients(byClient, requestId: requestId, fingerprint: fingerprint) { position in
            var eventContext = context
            eventContext.eventId = UUIDText.random()
            return try action.decide(position, actionId: actionId, context: eventContext)
        }
        if let error { throw error }
        var response = Ultracore_Holdings_V1_ApplyCorporateActionResponse()
        response.actionId = actionId
        response.results = earlier + recorded.compactMap { event in
            if case .corporateActionApplied(let applied)? = event.payload { return applied }
            return nil
        }
        response.results.sort { $0.positionId < $1.positionId }
        return response
    }

    /// The open positions in `tickers` (but those in `excluded`), grouped by client: the
    /// work of a multi-client command, one writer per client.
    private func holdersByClient(of tickers: [String], excluding excluded: Set<String>) -> [String: [String]] {
        state.withLock { state in
            var byClient: [String: [String]] = [:]
            for ticker in tickers {
                for id in state.holders[ticker] ?? [] where !excluded.contains(id) {
                    if let client = state.positions[id]?.clientId { byClient[client, default: []].append(id) }
                }
            }
            return byClient
        }
    }

    /// Waits (at most `timeout`) until Postgres holds every write acknowledged so far:
    /// read-your-writes for every read of the audit trail; UNAVAILABLE when it does not.
    func waitForAuditTrail(timeout: Duration = .seconds(5)) async throws {
        guard await gate.waitProjected(gate.acknowledgedSnapshot(), timeout: timeout) else {
            throw RPCError(.unavailable, "the audit trail is behind the event log (the projector is catching up); retry")
        }
    }

    /// Read your writes for a call: waits at most `timeout`, and never past the call's deadline.
    func waitForAuditTrail(_ context: ServerContext, timeout: Duration) async throws {
        var timeout = timeout
        if let deadline = context.deadline { timeout = min(timeout, deadline - .now) }
        try await waitForAuditTrail(timeout: timeout)
    }

    /// One attempt at a time per multi-client request id.
    private func claimBatch(_ requestId: String) throws {
        let claimed = state.withLock { $0.batchesInFlight.insert(requestId).inserted }
        guard claimed else { throw RPCError(.unavailable, "request \(requestId) is already in progress; retry when it answers") }
    }

    private func releaseBatch(_ requestId: String) {
        state.withLock { _ = $0.batchesInFlight.remove(requestId) }
    }

    /// The client owning a position (immutable), to pick its writer; NOT_FOUND for unknown ids.
    private func owner(of positionId: String) throws -> String {
        guard let client = state.withLock({ $0.positions[positionId]?.clientId }) else {
            throw RPCError(.notFound, "position \(positionId.prefix(128)) not found")
        }
        return client
    }

    static func realized(of event: Ultracore_Holdings_V1_Event) -> [Ultracore_Holdings_V1_RealizedLot] {
        switch event.payload {
        case .lotsSold(let sold)?: sold.realized
        case .positionClosed(let closed)?: closed.realized
        case .tradeExecuted(let trade)?: trade.realized
        default: []
        }
    }

    /// The first outcome of a retried request: the position as of the version its event
    /// produced, and that event (from the audit trail once the projector stored it).
    func replay(_ record: RequestRecord) async throws -> (PositionState, Ultracore_Holdings_V1_Event) {
        try await waitForAuditTrail()
        let events = try await pool.withConnection {
            try ReadModels.events(aggregate: record.aggregateId, upTo: record.version, on: $0)
        }
        guard let first = events.first, let last = events.last, last.eventId == record.eventId else {
            throw RPCError(.unavailable, "the outcome of this request is not readable yet; retry")
        }
        var position = try PositionState.opened(by: first)
        for event in events.dropFirst() { try position.apply(event) }
        return (position, last)
    }

    /// FAILED_PRECONDITION for an aggregate the projector dead-lettered an event of (the log
    /// holds an event of it the read model could not take): refused until it is replayed.
    func refuseIfQuarantined(_ aggregateId: String) throws {
        if gate.isQuarantined(aggregateId) {
            throw RPCError(.failedPrecondition,
                "\(aggregateId) has an event in the dead-letter table that the read model could not apply; writes to it wait until an operator replays it")
        }
    }

    func refuseIfUnconfirmed(_ client: String) throws {
        if state.withLock({ $0.unconfirmed.contains(client) }) {
            throw RPCError(.unavailable, "the last write of client \(client) is being confirmed against the event log; retry shortly")
        }
    }

    /// Produces one event and waits for the broker's acknowledgement; throws UNAVAILABLE
    /// (nothing applied) when the log refuses it or the projection is too far behind.
    private func record(_ event: Ultracore_Holdings_V1_Event, client: String) async throws {
        if let error = await recordAll([event], client: client)[0] { throw error }
    }

    /// Produces the events of one client (all to the partition of the client id, in order:
    /// a client's events are totally ordered, which a rebalancing run needs) and
    /// waits for the broker; one result per event: nil when acknowledged with an offset.
    /// Events whose partition is too far behind the projection are not produced (UNAVAILABLE).
    func recordAll(_ events: [Ultracore_Holdings_V1_Event], client: String) async -> [(any Error)?] {
        let topic = topics.positions
        var results: [(any Error)?] = Array(repeating: nil, count: events.count)
        var records: [OutgoingRecord] = []
        var sent: [(index: Int, target: PartitionKey)] = []
        for (index, event) in events.enumerated() {
            let key = Array(event.aggregateId.utf8)
            let target = PartitionKey(topic: topic, partition: EventLog.partition(forKey: Array(client.utf8), partitions: partitions))
            if let lag = gate.reserve(target) {
                results[index] = RPCError(.unavailable,
                    "the projection is \(lag.events) events behind on \(target) (limit \(gate.maxLag)); write refused, retry later")
                continue
            }
            records.append(OutgoingRecord(
                topic: topic, partition: target.partition, key: key, value: event.serializedBytes(),
                headers: [("event-type", Array((event.eventType.protoName ?? "EVENT_TYPE_UNSPECIFIED").utf8)),
                          ("schema-version", Array(String(event.schemaVersion).utf8))]))
            sent.append((index, target))
        }
        guard !records.isEmpty else { return results }
        let deliveries = await producer.send(records)
        var uncertain: [PartitionKey] = []
        for ((index, target), result) in zip(sent, deliveries) {
            switch result {
            case .success(let delivery) where delivery.offset < 0:
                // An acknowledgement without an offset is the broker calling the record a duplicate of
                // an earlier attempt. librdkafka 2.0.2 (Debian 12) can get there after a "possibly
                // persisted" error for a record that was never written (fixed upstream in 2.3.0,
                // librdkafka#4438), so it is not proof: confirm against the log like a timeout.
                gate.release(target, acknowledgedOffset: nil)
                uncertain.append(target)
                results[index] = KafkaError(code: -1, message: "the broker acknowledged \(events[index].eventId) as a duplicate without an offset",
                                            possiblyPersisted: true)
            case .success(let delivery):
                gate.release(target, acknowledgedOffset: delivery.offset)
            case .failure(let error):
                gate.release(target, acknowledgedOffset: nil)
                if error.possiblyPersisted { uncertain.append(target) }
                results[index] = error
            }
        }
        if let durableTimeout = ackAfterProjection {
            // The embedded broker keeps the log in this process's memory: a write is durable only
            // once Postgres holds it, so that is when it is acknowledged.
            var targets: [PartitionKey: Int64] = [:]
            for ((index, target), result) in zip(sent, deliveries) where results[index] == nil {
                if case .success(let delivery) = result { targets[target] = max(targets[target] ?? 0, delivery.offset + 1) }
            }
            if !targets.isEmpty, await gate.waitProjected(targets, timeout: durableTimeout) {
                // Committed, unless the projector dead-lettered it (another producer's event of the
                // aggregate got there first): then it waits with that one and is not applied here.
                for (index, _) in sent where results[index] == nil && gate.isQuarantined(events[index].aggregateId) {
                    results[index] = RPCError(.failedPrecondition,
                        "\(events[index].aggregateId) has an event in the dead-letter table; this write waits there with it "
                        + "and applies only if an operator replays them")
                }
            } else if !targets.isEmpty {
                for (index, _) in sent where results[index] == nil {
                    results[index] = RPCError(.deadlineExceeded,
                        "the write is in the embedded broker's log but Postgres has not committed it yet (is Postgres down?); "
                        + "its outcome is unknown until then: retry with the same request_id to learn it")
                }
                uncertain += targets.keys
            }
        }
        if !uncertain.isEmpty { confirmLater(client: client, partitions: Array(Set(uncertain))) }
        return results
    }

    /// A produce failed after the broker may have written it: refuse the client's writes
    /// until the projector stored the partition up to its current end, then reload the
    /// client's positions from Postgres.
    func confirmLater(client: String, partitions targets: [PartitionKey]) {
        state.withLock { _ = $0.unconfirmed.insert(client) }
        Log.error("write-model", "a write of client \(client) may be in \(targets) although it failed; confirming")
        Task.detached { [self] in
            while true {
                do {
                    let producer = self.producer
                    let highs = try await Blocking.run {
                        try Dictionary(uniqueKeysWithValues: targets.map { ($0, try producer.watermarks(topic: $0.topic, partition: $0.partition).high) })
                    }
                    while !(await gate.waitProjected(highs, timeout: .seconds(5))) {}
                    let ids = state.withLock { $0.byClient[client] ?? [] }
                    let reloaded = try await pool.withConnection { connection in
                        let rows = try connection.execute("SELECT position_id FROM positions WHERE client_id = $1", [.text(client)])
                        return (try ReadModels.loadPositions(Array(Set(ids + rows.rows.compactMap { $0[0] })), on: connection),
                                try Self.loadRequests(client: client, on: connection),
                                try ReadModels.loadSchedules(on: connection).first { $0.schedule.clientId == client },
                                try ReadModels.loadWashLosses(client: client, on: connection))
                    }
                    state.withLock { state in
                        for key in state.washLosses.keys where key.hasPrefix(WashSales.ledgerKey(client: client, ticker: "")) {
                            state.washLosses[key] = nil
                        }
                        state.washLosses.merge(reloaded.3) { _, loaded in loaded }
                        for position in reloaded.0.values { Self.index(position, in: &state) }
                        state.requests.merge(reloaded.1) { current, _ in current }
                        if let schedule = reloaded.2 { state.schedules[client] = schedule }
                        Self.sort(client: client, in: &state)
                        state.unconfirmed.remove(client)
                    }
                    Log.info("write-model", "client \(client) confirmed from the log (\(reloaded.0.count) positions)")
                    return
                } catch {
                    Log.error("write-model", "confirming client \(client): \(error); retrying")
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    // MARK: Queries

    /// The client's open position in `ticker`, if any.
    public func openPosition(client: String, ticker: String) -> PositionState? {
        state.withLock { state in state.openByTicker[client]?[ticker].flatMap { state.positions[$0] } }
    }

    public func position(_ id: String) -> PositionState? {
        state.withLock { $0.positions[id] }
    }

    /// A client's positions ordered by (opened_at, position_id), after `after`.
    public func positions(client: String, includeClosed: Bool, after: (Instant, String)?, limit: Int) -> (page: [PositionState], more: Bool) {
        state.withLock { state in
            var page: [PositionState] = []
            for id in state.byClient[client] ?? [] {
                guard let position = state.positions[id] else { continue }
                if !includeClosed && position.status != .open { continue }
                if let after, (position.openedAt, position.positionId) <= after { continue }
                if page.count == limit { return (page, true) }
                page.append(position)
            }
            return (page, false)
        }
    }
}

extension Instant {
    /// The server clock, truncated to microseconds.
    public static var now: Instant {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Instant(microseconds: Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)
    }
}

/// Runs a blocking call (a broker round trip, a first connect) on a dispatch queue
/// outside the cooperative pool.
enum Blocking {
    private static let queue = DispatchQueue(label: "holdings-blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
