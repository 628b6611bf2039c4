import Domain
import Learning
import EventLog
import Foundation
import HoldingsProto
import RPCCore
import Store

/// A plan from PlanRebalancing, kept for ExecuteRebalancing.
struct StoredPlan: Sendable {
    var planId: String
    var clientId: String
    var createdAt: Instant
    var strategy: Ultracore_Holdings_V1_RebalancingStrategy
    var plan: RebalancingPlan
    var constraints: TradingConstraints
    var drifts: [AssetDrift]
    /// ticker → (position id, version) of the client's open position the plan saw (nil: none).
    var seen: [String: (id: String, version: Int64)?]
    var response: Ultracore_Holdings_V1_PlanRebalancingResponse

    static let lifetime: Int64 = 24 * 3_600_000_000
}

/// The parameters of one evaluation (EvaluateRebalancing, or a schedule firing).
struct EvaluationInput: Sendable {
    var client: String
    var targets: [String: ExactDecimal]
    var strategy: Ultracore_Holdings_V1_RebalancingStrategy
    var band: DriftBand
    var bands: [String: DriftBand]
    var cadence: RebalancingCadence?
    var lastRebalancedAt: Instant?
    var lookback: Int
    var maxTilt: ExactDecimal
    var asOf: Instant
    /// TACTICAL: the trained policy that decides the tilt instead of momentum.
    var policyId = ""

    /// Validates the parts the request types share.
    init(client: String, targets: [String: String], strategy: Ultracore_Holdings_V1_RebalancingStrategy,
         band: Ultracore_Holdings_V1_DriftBand?, bands: [String: Ultracore_Holdings_V1_DriftBand], signal: Ultracore_Holdings_V1_TacticalSignal?,
         asOf: Instant) throws(DomainError) {
        self.client = try Validation.identifier(client, field: "client_id")
        self.targets = try TargetWeights.parse(targets, field: "target_weights")
        guard [.threshold, .calendar, .tactical].contains(strategy) else {
            throw .invalidArgument(field: "strategy", reason: "must be THRESHOLD, CALENDAR or TACTICAL")
        }
        self.strategy = strategy
        self.band = try DriftBand(band, field: "band")
        var parsed: [String: DriftBand] = [:]
        for (ticker, value) in bands {
            guard (try? Validation.ticker(ticker)) != nil else {
                throw .invalidArgument(field: "asset_bands[\(ticker.prefix(20))]", reason: "is not a ticker")
            }
            parsed[ticker] = try DriftBand(value, field: "asset_bands[\(ticker)]")
        }
        self.bands = parsed
        if strategy != .calendar && self.band.isEmpty && (parsed.isEmpty || self.targets.keys.contains { parsed[$0] == nil }) {
            throw .invalidArgument(field: "band", reason: "is required with \(strategy.protoName ?? "") (absolute or relative) for every asset without asset_bands")
        }
        lookback = 20
        maxTilt = ExactDecimal("0.05")!
        if strategy == .tactical, let signal {
            if !signal.policyId.isEmpty { policyId = try Validation.identifier(signal.policyId, field: "signal.policy_id") }
            if signal.lookback != 0 {
                guard (2...1000).contains(signal.lookback) else {
                    throw .invalidArgument(field: "signal.lookback", reason: "must be 2 to 1,000 valuations (0 means 20)")
                }
                lookback = Int(signal.lookback)
            }
            if !signal.maxTilt.isEmpty {
                maxTilt = try Validation.nonNegative(signal.maxTilt, field: "signal.max_tilt")
                guard maxTilt <= ExactDecimal(1) else { throw .invalidArgument(field: "signal.max_tilt", reason: "must be at most 1") }
            }
        }
        self.asOf = asOf
    }
}

/// The outcome of an evaluation.
struct EvaluationOutcome: Sendable {
    /// The portfolio evaluated (targets not held included), valued.
    var assets: [PortfolioAsset]
    var value: ExactDecimal
    var drifts: [AssetDrift]
    var effectiveTargets: [String: ExactDecimal]
    var shouldRebalance: Bool
    var reasons: [String]
}

extension WriteModel {
    // MARK: Evaluation

    /// Assets of the client valued at `prices` or their last price; targets not held are
    /// included at `fallback` (their price when the caller gave one).
    func assets(client: String, targets: [String: ExactDecimal], prices: [String: ExactDecimal],
                requirePrices: Bool) throws -> [PortfolioAsset] {
        let open = openPositions(of: client)
        return try Self.assets(held: open.tickers, position: { open[$0] }, targets: targets, prices: prices, requirePrices: requirePrices)
    }

    /// The same from any view of the open positions (the monitoring agent's read models too).
    static func assets(held: some Collection<String>, position: (String) -> PositionState?, targets: [String: ExactDecimal],
                       prices: [String: ExactDecimal] = [:], requirePrices: Bool = false) throws -> [PortfolioAsset] {
        var assets: [PortfolioAsset] = []
        for ticker in Set(held).union(targets.keys).sorted() {
            let position = position(ticker)
            // The valuation rule of every portfolio read: a position never priced counts at cost,
            // so its per-share price is its average cost.
            if let price = prices[ticker] ?? position?.valuationPrice, price.isPositive {
                // A caller's price may value the position beyond the documented range: refused, not zeroed.
                if let position { _ = try position.marketValue(at: prices[ticker]).checkedAmount("the market value of \(position.positionId)") }
                assets.append(PortfolioAsset(ticker: ticker, position: position, price: price))
            } else if requirePrices {
                throw DomainError.failedPrecondition("no price for \(ticker): pass prices[\(ticker)]")
            } else {
                assets.append(PortfolioAsset(ticker: ticker, position: nil, price: .zero))
            }
        }
        return assets
    }

    /// Recent prices (oldest first, at most `count`) of the client's positions in `tickers`,
    /// from their POSITION_VALUED events.
    func recentPrices(client: String, tickers: [String], count: Int) async throws -> [String: [ExactDecimal]] {
        let open = openPositions(of: client)
        let ids = tickers.compactMap { ticker in open[ticker].map { (ticker, $0.positionId) } }
        guard !ids.isEmpty else { return [:] }
        try await waitForAuditTrail()
        return try await pool.withConnection { connection in
            var prices: [String: [ExactDecimal]] = [:]
            for (ticker, id) in ids { prices[ticker] = try ReadModels.recentPrices(position: id, count: count, on: connection) }
            return prices
        }
    }

    /// Drift per asset and the strategy's decision.
    func evaluate(_ input: EvaluationInput, prices: [String: ExactDecimal] = [:], requirePrices: Bool = false) async throws -> EvaluationOutcome {
        var targets = input.targets
        var reasons: [String] = []
        var policyHolds = false
        if input.strategy == .tactical, !input.policyId.isEmpty {
            let tilt = try await policyTilt(input, targets: targets)
            targets = tilt.targets
            reasons += tilt.reasons
            policyHolds = tilt.hold
        } else if input.strategy == .tactical {
            let recent = try await recentPrices(client: input.client, tickers: Array(targets.keys), count: input.lookback)
            let tilt = try Rebalancing.momentumTilt(targets, prices: recent, maxTilt: input.maxTilt)
            targets = tilt.targets
            reasons += tilt.reasons
        }
        let assets = try assets(client: input.client, targets: targets, prices: prices, requirePrices: requirePrices)
        let (value, drifts) = try Rebalancing.drifts(assets, targets: targets, band: input.band, bands: input.bands)
        var should = false
        if input.strategy == .calendar && value.isPositive {
            guard let cadence = input.cadence else {
                // A plan: the calendar decided already; every asset goes to its target.
                return EvaluationOutcome(assets: assets, value: value, drifts: drifts, effectiveTargets: targets, shouldRebalance: true,
                                         reasons: reasons + ["calendar rebalance: every asset to its target"])
            }
            let name = cadence.proto.protoName ?? ""
            if let last = input.lastRebalancedAt {
                let boundary = cadence.boundary(after: last)
                should = boundary <= input.asOf
                reasons.append(should ? "a \(name) boundary (\(boundary.isoText)) passed since the last rebalance (\(last.isoText))"
                                      : "no \(name) boundary since the last rebalance (\(last.isoText)); the next is \(boundary.isoText)")
            } else {
                should = true
                reasons.append("never rebalanced: a \(name) rebalance is due")
            }
        } else if policyHolds && value.isPositive {
            reasons.append("the policy holds: no rebalance, whatever the drift")
        } else {
            let decision = Self.thresholdDecision(value: value, drifts: drifts)
            should = decision.should
            reasons += decision.reasons
        }
        return EvaluationOutcome(assets: assets, value: value, drifts: drifts, effectiveTargets: targets, shouldRebalance: should, reasons: reasons)
    }

    /// THRESHOLD's decision (TACTICAL's after its tilt): rebalance when an asset is outside its band.
    static func thresholdDecision(value: ExactDecimal, drifts: [AssetDrift]) -> (should: Bool, reasons: [String]) {
        guard value.isPositive else { return (false, ["the portfolio has no market value"]) }
        let outside = drifts.filter(\.outside)
        guard !outside.isEmpty else { return (false, ["every asset is within its band"]) }
        return (true, outside.map { "\($0.ticker) drifted \($0.drift) (weight \($0.current) against target \($0.target)): outside its band" })
    }

    /// TACTICAL with a policy: the policy's greedy action on the client's state. HOLD keeps the
    /// portfolio as it is; REBALANCE_TO_TARGET keeps the targets; INCREASE_RISK / DECREASE_RISK
    /// move max_tilt of the targets toward the policy ticker with the highest / lowest trailing
    /// volatility (when it is a target).
    func policyTilt(_ input: EvaluationInput, targets: [String: ExactDecimal]) async throws -> (targets: [String: ExactDecimal], reasons: [String], hold: Bool) {
        guard let policy = try await policies.load(input.policyId) else {
            throw DomainError.notFound("policy \(input.policyId) not found (AgentService.TrainPolicy creates policies)")
        }
        let state = try await policies.state(of: input.client, policy: policy, given: [:])
        let (choice, values) = DQNTrainer.greedy(policy.network, state.features)
        let name = Ultracore_Holdings_V1_PolicyAction(choice).protoName ?? "\(choice)"
        let q = values.map { format($0, places: 4) }.joined(separator: ", ")
        var reasons = ["policy \(input.policyId) chose \(name) (Q-values \(q) for HOLD, REBALANCE_TO_TARGET, INCREASE_RISK, DECREASE_RISK)"]
        switch choice {
        case .hold:
            return (targets, reasons, true)
        case .rebalanceToTarget:
            return (targets, reasons, false)
        case .increaseRisk, .decreaseRisk:
            let chosen = state.environment.leaning(choice, at: state.period)
            let best = state.environment.volatility(asset: chosen, at: state.period)
            let ticker = policy.tickers[chosen]
            guard targets[ticker] != nil else {
                reasons.append("\(ticker), the asset it leans toward, has no target: targets kept")
                return (targets, reasons, false)
            }
            let keep = try ExactDecimal(1).subtracting(input.maxTilt)
            var tilted: [String: ExactDecimal] = [:]
            for (key, weight) in targets { tilted[key] = try weight.multiplied(by: keep, scale: 10) }
            tilted[ticker] = try (tilted[ticker] ?? .zero).adding(input.maxTilt)
            reasons.append("\(input.maxTilt) of the targets moved toward \(ticker) (trailing volatility \(format(100 * best, places: 2)) %)")
            return (tilted, reasons, false)
        }
    }

    /// The first outcome of an evaluation retried with its request id (from its REBALANCING_TRIGGERED).
    func replayTrigger(client: String, requestId: String, fingerprint: String) async throws -> Ultracore_Holdings_V1_EvaluateRebalancingResponse? {
        guard let event = try await recordedEvent(client: client, requestId: requestId, fingerprint: fingerprint) else { return nil }
        guard case .rebalancingTriggered(let triggered)? = event.payload else { throw Self.outcomeNotReadable }
        var response = Ultracore_Holdings_V1_EvaluateRebalancingResponse()
        response.drifts = triggered.drifts
        response.shouldRebalance = true
        response.reasons = triggered.reasons
        for drift in triggered.drifts { response.effectiveTargets[drift.ticker] = drift.targetWeight }
        response.portfolioValue = event.attributes["portfolio-value"] ?? ""
        response.eventId = event.eventId
        response.rebalancingId = event.aggregateId
        return response
    }

    static var outcomeNotReadable: RPCError { RPCError(.unavailable, "the outcome of this request is not readable yet; retry") }

    /// The client-level event a known request id recorded (nil for a new id), read from the
    /// audit trail; INVALID_ARGUMENT when the id was used by a different request.
    func recordedEvent(client: String, requestId: String, fingerprint: String) async throws -> Ultracore_Holdings_V1_Event? {
        guard !requestId.isEmpty, let record = executor.read(client, { $0.requests[requestId] }) else { return nil }
        guard case .event(let aggregate, let version, _) = try record.matching(fingerprint) else { throw RequestRecord.reused(requestId) }
        try await waitForAuditTrail()
        let events = try await pool.withConnection { try ReadModels.events(aggregate: aggregate, upTo: version, on: $0) }
        guard let event = events.last else { throw Self.outcomeNotReadable }
        return event
    }

    /// Records REBALANCING_TRIGGERED (a run of its own, version 1) under the client's writer.
    func trigger(_ outcome: EvaluationOutcome, input: EvaluationInput, planId: String, requestId: String, fingerprint: String,
                         source: String, now: Instant) async throws -> Ultracore_Holdings_V1_Event {
        var event = context(source, requestId: requestId, now: now)
            .envelope(aggregateId: "reb-" + UUIDText.random(), version: 1, clientId: input.client)
        var triggered = Ultracore_Holdings_V1_RebalancingTriggered()
        triggered.rebalancingId = event.aggregateId
        triggered.clientId = input.client
        triggered.strategy = input.strategy
        triggered.reasons = outcome.reasons
        triggered.drifts = outcome.drifts.map(\.proto)
        triggered.planId = planId
        event.eventType = .rebalancingTriggered
        event.payload = .rebalancingTriggered(triggered)
        event.attributes["portfolio-value"] = outcome.value.description
        if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
        try await recordClientEvent(event, client: input.client, requestId: requestId, fingerprint: fingerprint)
        return event
    }

    /// Records one client-level event (not a position's) under the client's writer.
    func recordClientEvent(_ event: Ultracore_Holdings_V1_Event, client: String, requestId: String, fingerprint: String) async throws {
        try await executor.write(client) { writer in
            if !requestId.isEmpty, let known = writer.read({ $0.requests[requestId] }) { _ = try known.matching(fingerprint) }
            try await writer.record(.client(event))
        }
    }

    // MARK: Plans

    /// Plans the trades of an evaluation and keeps the plan for ExecuteRebalancing.
    func plan(_ input: EvaluationInput, constraints: TradingConstraints, prices: [String: ExactDecimal], planId: String,
              now: Instant) async throws -> StoredPlan {
        let open = openPositions(of: input.client)
        let outcome = try await evaluate(input, prices: prices, requirePrices: true)
        let assets = outcome.assets
        let trading = input.strategy == .calendar ? Set(assets.map(\.ticker)) : Set(outcome.drifts.filter(\.outside).map(\.ticker))
        let plan = try RebalancingPlanner.plan(assets, targets: outcome.effectiveTargets, trading: trading, constraints: constraints, at: now)
        var response = Ultracore_Holdings_V1_PlanRebalancingResponse()
        response.planId = planId
        response.trades = plan.trades.map { $0.proto(shortRate: constraints.shortTermRate, longRate: constraints.longTermRate) }
        response.totalEstimatedCost = plan.totalCost.description
        response.totalTaxImpact = plan.totalTaxImpact.description
        response.projectedWeights = plan.projectedWeights.mapValues(\.description)
        response.projectedCash = plan.projectedCash.description
        var seen: [String: (id: String, version: Int64)?] = [:]
        for trade in plan.trades { seen[trade.ticker] = open[trade.ticker].map { ($0.positionId, $0.version) } }
        let stored = StoredPlan(planId: planId, clientId: input.client, createdAt: now, strategy: input.strategy, plan: plan,
                                constraints: constraints, drifts: outcome.drifts, seen: seen, response: response)
        executor.update(input.client) { book in
            book.plans = book.plans.filter { now.microseconds - $0.value.createdAt.microseconds < StoredPlan.lifetime }
            // Executions of expired plans: a retry by request_id finds them in the audit trail.
            book.executions = book.executions.filter { book.plans[$0.key] != nil }
            book.plans[planId] = stored
        }
        return stored
    }

    // MARK: Execution

    static func prices(of stored: StoredPlan) -> [String: ExactDecimal] {
        Dictionary(stored.plan.trades.map { ($0.ticker, $0.price) }, uniquingKeysWith: { first, _ in first })
    }

    /// The run's events (TRIGGERED, a TRADE_EXECUTED per trade, COMPLETED), the positions
    /// after them and the trades as executed. FAILED_PRECONDITION when a position changed
    /// since the plan was made.
    func runEvents(_ stored: StoredPlan, positions open: [String: PositionState], now: Instant, requestId: String, source: String)
        throws -> (changes: [ClientBook.Change], positions: [String: PositionState], trades: [Ultracore_Holdings_V1_ExecutedTrade]) {
        let client = stored.clientId
        for (ticker, seen) in stored.seen {
            let current = open[ticker].map { ($0.positionId, $0.version) }
            guard current?.0 == seen?.id && current?.1 == seen?.version else {
                throw DomainError.failedPrecondition(
                    "the \(ticker) position of client \(client) changed since plan \(stored.planId) was made; plan again")
            }
        }
        let rebalancingId = "reb-" + UUIDText.random()
        let base = context(source, requestId: requestId, now: now)
        var triggered = Ultracore_Holdings_V1_RebalancingTriggered()
        triggered.rebalancingId = rebalancingId
        triggered.clientId = client
        triggered.strategy = stored.strategy
        triggered.reasons = ["executing plan \(stored.planId): \(stored.plan.trades.count) trades"]
        triggered.drifts = stored.drifts.map(\.proto)
        triggered.planId = stored.planId
        var first = base.envelope(aggregateId: rebalancingId, version: 1, clientId: client)
        first.eventType = .rebalancingTriggered
        first.payload = .rebalancingTriggered(triggered)
        var changes: [ClientBook.Change] = [.client(first)]
        var positions = open
        var executed: [Ultracore_Holdings_V1_ExecutedTrade] = []
        for (index, trade) in stored.plan.trades.enumerated() {
            var eventContext = base
            eventContext.eventId = UUIDText.random()
            eventContext.causationId = first.eventId
            let position = positions[trade.ticker]
            let event = try RebalancingEvents.trade(trade, position: position, newPositionId: "pos-" + UUIDText.random(), clientId: client,
                                                    rebalancingId: rebalancingId, planId: stored.planId, context: eventContext, at: now)
            var after: PositionState
            if var current = position { try current.apply(event); after = current } else { after = try PositionState.opened(by: event) }
            positions[trade.ticker] = after
            changes.append(.position(event, after: after))
            var done = Ultracore_Holdings_V1_ExecutedTrade()
            done.trade = stored.response.trades[index]
            done.positionId = after.positionId
            done.realized = WriteModel.realized(of: event)
            done.eventId = source.isEmpty ? "" : event.eventId
            executed.append(done)
        }
        var completed = Ultracore_Holdings_V1_RebalancingCompleted()
        completed.rebalancingId = rebalancingId
        completed.planId = stored.planId
        completed.clientId = client
        completed.tradeCount = Int32(stored.plan.trades.count)
        completed.totalCost = stored.plan.totalCost.description
        completed.totalRealizedGain = Gains.summary(realized: executed.flatMap(\.realized)).total
        var lastContext = base
        lastContext.eventId = UUIDText.random()
        lastContext.causationId = first.eventId
        var last = lastContext.envelope(aggregateId: rebalancingId, version: 2, clientId: client)
        last.eventType = .rebalancingCompleted
        last.payload = .rebalancingCompleted(completed)
        changes.append(.client(last))
        return (changes, positions, executed)
    }

    /// Records a run under the client's writer; applies it only when every event was acknowledged.
    func execute(_ stored: StoredPlan, requestId: String, fingerprint: String, source: String, now: Instant) async throws -> Ultracore_Holdings_V1_ExecuteRebalancingResponse {
        let client = stored.clientId
        return try await executor.write(client) { writer in
            if let done = writer.read({ $0.executions[stored.planId] }), case .execution(let rebalancingId, let response) = done.outcome {
                if !requestId.isEmpty && done.requestId == requestId && done.fingerprint == fingerprint { return response }
                throw RPCError(.failedPrecondition, "plan \(stored.planId) was already executed (rebalancing \(rebalancingId))")
            }
            var (changes, _, executed) = try runEvents(stored, positions: writer.read { $0.openView.dictionary }, now: now, requestId: requestId, source: source)
            for change in changes where RebalancingEvents.isPositionEvent(change.event) { try refuseIfQuarantined(change.event.aggregateId) }
            let rebalancingId = changes[0].event.aggregateId
            var response = Ultracore_Holdings_V1_ExecuteRebalancingResponse()
            response.rebalancingId = rebalancingId
            response.trades = executed
            response.totalCost = stored.plan.totalCost.description
            if !requestId.isEmpty {
                changes = changes.map { $0.attributed(EventAttributes.requestDigest, fingerprint) }
            }
            let outcome = await writer.record(changes, allOrNothing: true)
            if let failure = outcome.results.compactMap({ $0 }).first {
                let written = outcome.results.contains { $0 == nil } || outcome.results.contains { ($0 as? KafkaError)?.possiblyPersisted == true }
                guard written else {
                    if !outcome.uncertain.isEmpty { executor.confirm(client, partitions: outcome.uncertain) }
                    throw failure
                }
                abandon(rebalancingId, plan: stored.planId, client: client, reason: "\(failure)")
                throw RPCError(.unavailable,
                    "the event log did not take rebalancing \(rebalancingId) whole (\(ServiceError.status(failure).message)); it is being settled: all of its trades or none take effect. Retry with the same request_id for the outcome")
            }
            response.portfolio = try PortfolioValuation.portfolio(client: client, positions: writer.read { $0.openView.values },
                                                                  prices: Self.prices(of: stored))
            let done = response
            writer.update { book in
                book.executions[stored.planId] = RequestRecord(requestId: requestId, fingerprint: fingerprint,
                                                               outcome: .execution(rebalancingId: rebalancingId, response: done))
            }
            // A run moves money: one line for operators (a call's method and request id ride on it).
            Log.info("rebalancing", "run \(rebalancingId) of plan \(stored.planId) executed \(executed.count) trades at a cost of \(response.totalCost)",
                     [("client_id", client), ("rebalancing_id", rebalancingId)])
            return response
        }
    }

    /// A run the log took only in part (or maybe): refuse the client's writes, record
    /// REBALANCING_ABORTED until the broker takes it (unless COMPLETED got there first, the
    /// log decides), then reload the client from Postgres once the projector settled the run.
    private func abandon(_ rebalancingId: String, plan planId: String, client: String, reason: String) {
        executor.update(client) { $0.unconfirmed = true }
        Log.error("rebalancing", "run \(rebalancingId) of \(client) was not acknowledged whole (\(reason)); aborting it")
        var aborted = Ultracore_Holdings_V1_RebalancingAborted()
        aborted.rebalancingId = rebalancingId
        aborted.planId = planId
        aborted.clientId = client
        aborted.reason = "the event log did not acknowledge every event of the run: \(reason)"
        var event = context("RebalancingService.ExecuteRebalancing", requestId: "", now: .now)
            .envelope(aggregateId: rebalancingId, version: 2, clientId: client)
        event.eventType = .rebalancingAborted
        event.payload = .rebalancingAborted(aborted)
        let marker = event
        Task.detached { [self] in
            var delay = 0.2
            while true {
                if await self.recorder.record([marker], client: client).results[0] == nil { break }
                try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
                delay = min(2, delay * 2)
            }
            self.executor.confirm(client, partitions: [self.recorder.partition(of: client)])
        }
    }

    /// A retried execution: the completed run recorded with this request id, rebuilt from the
    /// audit trail when it is not in memory (the portfolio is the current one).
    func replayExecution(client: String, requestId: String, fingerprint: String) async throws -> Ultracore_Holdings_V1_ExecuteRebalancingResponse? {
        if let done = executor.read(client, { $0.executions.values.first { $0.requestId == requestId } }) {
            guard case .execution(_, let response) = try done.matching(fingerprint) else { throw RequestRecord.reused(requestId) }
            return response
        }
        if executor.read(client, { $0.unconfirmed }) { throw CommandExecutor<ClientBook>.unconfirmedError(client) }
        try await waitForAuditTrail()
        guard let (run, digest) = try await pool.withConnection({ try ReadModels.completedRun(client: client, requestId: requestId, on: $0) }) else {
            return nil
        }
        guard digest == fingerprint else { throw RequestRecord.reused(requestId) }
        let trades = try await pool.withConnection { try ReadModels.runTrades(run, on: $0) }
        var response = Ultracore_Holdings_V1_ExecuteRebalancingResponse()
        response.rebalancingId = run
        var total = ExactDecimal.zero
        for event in trades {
            guard case .tradeExecuted(let trade)? = event.payload else { continue }
            var planned = Ultracore_Holdings_V1_PlannedTrade()
            planned.ticker = trade.ticker
            planned.side = trade.side
            planned.quantity = trade.quantity
            planned.estimatedPrice = trade.price
            planned.estimatedCost = trade.cost
            total = (try? total.adding(ExactDecimal(trade.cost) ?? .zero)) ?? total
            var done = Ultracore_Holdings_V1_ExecutedTrade()
            done.trade = planned
            done.positionId = trade.positionId
            done.realized = trade.realized
            done.eventId = event.eventId
            response.trades.append(done)
        }
        response.totalCost = total.description
        response.portfolio = try PortfolioValuation.portfolio(client: client, positions: openPositions(of: client).values)
        return response
    }

    // MARK: Schedules

    func saveSchedule(_ schedule: Ultracore_Holdings_V1_RebalancingSchedule, after version: Int64, requestId: String, fingerprint: String,
                      source: String, now: Instant) async throws {
        var event = context(source, requestId: requestId, now: now)
            .envelope(aggregateId: schedule.scheduleId, version: version + 1, clientId: schedule.clientId)
        var scheduled = Ultracore_Holdings_V1_RebalancingScheduled()
        scheduled.schedule = schedule
        event.eventType = .rebalancingScheduled
        event.payload = .rebalancingScheduled(scheduled)
        if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
        try await recordClientEvent(event, client: schedule.clientId, requestId: requestId, fingerprint: fingerprint)
    }

    /// Schedules due at `now` (enabled, next run at or before it).
    func dueSchedules(at now: Instant) -> [ClientBook.ScheduleEntry] {
        executor.states.keys.compactMap { client in executor.read(client) { $0.schedule } }.filter { entry in
            entry.schedule.enabled && (entry.schedule.nextRunAt.flatMap(Instant.init).map { $0 <= now } ?? false)
        }.sorted { $0.schedule.scheduleId < $1.schedule.scheduleId }
    }

    /// One firing of a schedule: evaluate (REBALANCING_TRIGGERED when due), plan and execute
    /// when auto_execute, then move next_run_at to the cadence boundary after `now`.
    func runSchedule(_ entry: ClientBook.ScheduleEntry, now clockNow: Instant) async throws -> [String] {
        var schedule = entry.schedule
        let now = Instant.now
        let cadence = try RebalancingCadence(schedule.cadence, field: "cadence")
        var input = try EvaluationInput(client: schedule.clientId, targets: schedule.targetWeights, strategy: schedule.strategy,
                                        band: schedule.band, bands: [:], signal: nil, asOf: clockNow)
        input.cadence = cadence
        input.lastRebalancedAt = schedule.lastRunAt.flatMap(Instant.init)
        var notes: [String] = []
        let outcome = try await evaluate(input)
        if outcome.shouldRebalance {
            if schedule.autoExecute {
                let stored = try await plan(input, constraints: TradingConstraints(), prices: [:], planId: "plan-" + UUIDText.random(), now: now)
                let response = try await execute(stored, requestId: "", fingerprint: "", source: "scheduler/\(schedule.scheduleId)", now: now)
                notes.append("executed \(response.trades.count) trades (rebalancing \(response.rebalancingId))")
            } else {
                let event = try await trigger(outcome, input: input, planId: "", requestId: "", fingerprint: "",
                                              source: "scheduler/\(schedule.scheduleId)", now: now)
                notes.append("triggered \(event.aggregateId)")
            }
        } else {
            notes.append("no rebalance: " + outcome.reasons.joined(separator: "; "))
        }
        schedule.lastRunAt = clockNow.timestamp
        schedule.nextRunAt = cadence.boundary(after: clockNow).timestamp
        try await saveSchedule(schedule, after: entry.version, requestId: "", fingerprint: "", source: "scheduler/\(schedule.scheduleId)", now: now)
        return notes
    }
}

extension Instant {
    /// ISO 8601 text (UTC, seconds).
    var isoText: String {
        let seconds = microseconds / 1_000_000
        let (y, m, d) = RebalancingCadenceText.civil(self)
        let second = ((seconds % 86_400) + 86_400) % 86_400
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, second / 3600, (second / 60) % 60, second % 60)
    }
}

enum RebalancingCadenceText {
    static func civil(_ instant: Instant) -> (Int, Int, Int) { HoldingPeriod.civilDate(instant) }
}
