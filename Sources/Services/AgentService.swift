import Domain
import Foundation
import HoldingsProto
import RPCCore
import Security
import Learning
import Store
import Synchronization

/// AgentService: risk, anomalies and rebalancing recommendations over a client's book and
/// audit trail (these only read), and the DQN policy: TrainPolicy records POLICY_TRAINED,
/// RecommendAction reads a trained policy.
public struct AgentService: Ultracore_Holdings_V1_AgentService.ServiceProtocol {
    let model: WriteModel
    let analytics: AnalyticsService
    let readYourWritesTimeout: Duration
    var policies: PolicyStore { model.policies }

    public init(model: WriteModel, readYourWritesTimeout: Duration = .seconds(5)) {
        self.model = model
        self.analytics = AnalyticsService(model: model, readYourWritesTimeout: readYourWritesTimeout)
        self.readYourWritesTimeout = readYourWritesTimeout
    }

    /// Events DetectAnomalies examines at most.
    static let anomalyEventLimit = 10_000

    // MARK: AssessRisk

    public func assessRisk(request: Ultracore_Holdings_V1_AssessRiskRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_AssessRiskResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let confidence = request.confidence == 0 ? 0.95 : request.confidence
            guard confidence.isFinite, confidence > 0, confidence < 1 else {
                throw DomainError.invalidArgument(field: "confidence", reason: "must be strictly between 0 and 1 (0 means 0.95), not \(request.confidence)")
            }
            let horizon = request.horizonDays == 0 ? 1 : Int(request.horizonDays)
            guard (1...252).contains(horizon) else {
                throw DomainError.invalidArgument(field: "horizon_days", reason: "must be 1 to 252 periods (0 means 1), not \(request.horizonDays)")
            }
            let periodsPerYear = try AnalyticsService.periodsPerYear(request.periodsPerYear)
            var input: Ultracore_Holdings_V1_SeriesInput
            if let given = request.series {
                if case .history(let history)? = given.source, history.clientId != client {
                    throw DomainError.invalidArgument(field: "series.history.client_id", reason: "must be the request's client_id")
                }
                input = given
            } else {
                var history = Ultracore_Holdings_V1_ClientHistory()
                history.clientId = client
                input = Ultracore_Holdings_V1_SeriesInput()
                input.source = .history(history)
            }
            let series = try await analytics.series(input, field: "series", context: context)
            let returns = series.returns
            guard returns.count >= 2 else {
                if case .history? = input.source {
                    throw DomainError.failedPrecondition("client \(client) has \(returns.count) valuation return\(returns.count == 1 ? "" : "s"); at least 2 are needed")
                }
                throw DomainError.invalidArgument(field: "series", reason: "gives \(returns.count) return; at least 2 are needed")
            }
            var response = Ultracore_Holdings_V1_AssessRiskResponse()
            response.observations = Int32(clamping: returns.count)
            if let benchmarkInput = request.benchmark {
                let benchmark = try await analytics.series(benchmarkInput, field: "benchmark", context: context)
                guard benchmark.returns.count == returns.count else {
                    throw DomainError.invalidArgument(field: "benchmark", reason: "gives \(benchmark.returns.count) returns for \(returns.count) assessed returns")
                }
                let relative = ReturnStatistics.relative(returns, benchmark: benchmark.returns, riskFree: 0, periodsPerYear: periodsPerYear)
                response.beta = relative.beta
                response.undefined += relative.undefined.filter { $0.statistic == "beta" }.map(Self.undefined)
            } else {
                response.beta = .nan
                response.undefined.append(Self.undefined(Undefined(statistic: "beta", reason: "no benchmark given")))
            }

            let cutoff = 1 - confidence
            response.volatility = ReturnStatistics.isConstant(returns) ? 0 : ReturnStatistics.annualVolatility(returns, periodsPerYear: periodsPerYear)
            let sorted = returns.sorted()
            response.historicalVarReturn = RiskMeasures.percentile(sorted: sorted, fraction: cutoff)
            response.historicalEsReturn = RiskMeasures.expectedShortfall(sorted: sorted, cutoff: cutoff)
            response.parametricVarReturn = RiskMeasures.parametricValueAtRisk(returns, cutoff: cutoff)
            response.parametricEsReturn = RiskMeasures.parametricExpectedShortfall(returns, cutoff: cutoff)

            let book = try Self.weights(model.openSummaries(of: client), client: client)
            response.marketValue = book.value.description
            let value = book.value.doubleValue
            func amount(_ tail: Double) -> String {
                Self.cents(RiskMeasures.loss(tailReturn: tail, horizon: horizon, value: value))
            }
            response.valueAtRisk = amount(response.historicalVarReturn)
            response.expectedShortfall = amount(response.historicalEsReturn)
            response.parametricValueAtRisk = amount(response.parametricVarReturn)
            response.parametricExpectedShortfall = amount(response.parametricEsReturn)

            let (hhi, _) = RiskMeasures.concentration(book.weights.map(\.weight))
            response.concentration = hhi
            response.largestWeight = book.largest?.exact.description ?? "0"
            let volatilityGrade = RiskGrade.of(volatility: response.volatility)
            let weightGrade = RiskGrade.of(largestWeight: book.largest?.weight ?? 0)
            let grade = max(volatilityGrade, weightGrade)
            switch grade {
            case .low: response.riskLevel = .riskLow
            case .moderate: response.riskLevel = .riskModerate
            case .high: response.riskLevel = .riskHigh
            case .severe: response.riskLevel = .riskSevere
            }
            let volatilityWords = "annualized volatility \(format(100 * response.volatility, places: 2)) % (\(volatilityGrade.name): under 10 % low, 10–20 % moderate, 20–35 % high, above 35 % severe)"
            let weightWords = book.largest.map {
                "largest position \($0.ticker) at \(format(100 * $0.weight, places: 2)) % of the portfolio (\(weightGrade.name): above 25 % moderate, above 40 % high, above 60 % severe)"
            } ?? "no open position (concentration low)"
            response.reasons = volatilityGrade >= weightGrade ? [volatilityWords, weightWords] : [weightWords, volatilityWords]
            return response
        }
    }

    static func undefined(_ value: Undefined) -> Ultracore_Holdings_V1_UndefinedStatistic {
        var statistic = Ultracore_Holdings_V1_UndefinedStatistic()
        statistic.statistic = value.statistic
        statistic.reason = value.reason
        return statistic
    }

    /// An amount in currency units, to 2 decimal places.
    static func cents(_ amount: Double) -> String {
        String(format: "%.2f", amount)
    }

    struct Weight {
        var ticker: String
        var weight: Double
        var exact: ExactDecimal
    }

    /// Open positions' weights in market value (valued as GetPortfolioValue values them).
    static func weights(_ positions: [PositionSummary], client: String) throws -> (value: ExactDecimal, weights: [Weight], largest: Weight?) {
        var total = ExactDecimal.zero
        var values: [(String, ExactDecimal)] = []
        for position in positions {
            let value = try position.marketValue()
            do { total = try total.adding(value) } catch {
                throw RPCError(.failedPrecondition, "the portfolio of \(client) adds up beyond the range of exact decimals (±10^18)")
            }
            values.append((position.ticker, value))
        }
        guard total.isPositive else { return (total, [], nil) }
        var weights: [Weight] = []
        var largest: Weight?
        for (ticker, value) in values {
            let exact = try value.divided(by: total)
            let weight = Weight(ticker: ticker, weight: exact.doubleValue, exact: exact)
            weights.append(weight)
            if let current = largest, !(exact > current.exact) { continue }
            largest = weight
        }
        return (total, weights, largest)
    }

    // MARK: DetectAnomalies

    public func detectAnomalies(request: Ultracore_Holdings_V1_DetectAnomaliesRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_DetectAnomaliesResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let threshold = request.zThreshold == 0 ? 3 : request.zThreshold
            guard threshold.isFinite, threshold >= 1, threshold <= 100 else {
                throw DomainError.invalidArgument(field: "z_threshold", reason: "must be 1 to 100 (0 means 3), not \(request.zThreshold)")
            }
            let lookback = request.lookback == 0 ? 30 : Int(request.lookback)
            guard (AnomalyDetector.minimumWindow...10_000).contains(lookback) else {
                throw DomainError.invalidArgument(field: "lookback", reason: "must be \(AnomalyDetector.minimumWindow) to 10,000 observations (0 means 30), not \(request.lookback)")
            }
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let events = try await model.pool.withConnection { connection in
                try ReadModels.recentMarketEvents(client: client, limit: Self.anomalyEventLimit, on: connection)
            }
            let result = AnomalyDetector(threshold: threshold, lookback: lookback).detect(events)
            var response = Ultracore_Holdings_V1_DetectAnomaliesResponse()
            response.anomalies = result.anomalies
            response.examined = Int32(clamping: result.examined)
            return response
        }
    }

    // MARK: RecommendRebalancing

    public func recommendRebalancing(request: Ultracore_Holdings_V1_RecommendRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_RecommendRebalancingResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let band = request.driftThreshold.isEmpty ? ExactDecimal("0.05")! : try Validation.positive(request.driftThreshold, field: "drift_threshold")
            guard band <= ExactDecimal(1) else {
                throw DomainError.invalidArgument(field: "drift_threshold", reason: "must be at most 1")
            }
            var targets = request.targetWeights
            if targets.isEmpty {
                targets = try Self.equalWeights(Set(model.openSummaries(of: client).map(\.ticker)))
                guard !targets.isEmpty else {
                    throw DomainError.failedPrecondition("client \(client) holds no open position and the request gives no target weights")
                }
            }
            var bandProto = Ultracore_Holdings_V1_DriftBand()
            bandProto.absolute = band.description
            var signal: Ultracore_Holdings_V1_TacticalSignal?
            if !request.policyId.isEmpty {
                var tactical = Ultracore_Holdings_V1_TacticalSignal()
                tactical.policyId = try Validation.identifier(request.policyId, field: "policy_id")
                signal = tactical
            }
            let strategy: Ultracore_Holdings_V1_RebalancingStrategy = signal == nil ? .threshold : .tactical
            let input = try EvaluationInput(client: client, targets: targets, strategy: strategy, band: bandProto, bands: [:],
                                            signal: signal, asOf: .now)
            let outcome = try await model.evaluate(input)
            var response = Ultracore_Holdings_V1_RecommendRebalancingResponse()
            response.recommend = outcome.shouldRebalance
            response.strategy = strategy
            response.reasons = outcome.reasons
            response.drifts = outcome.drifts.map(\.proto)
            response.targetWeights = outcome.effectiveTargets.mapValues(\.description)
            response.portfolioValue = outcome.value.description
            let largest = outcome.drifts.map { $0.drift.magnitude.doubleValue }.max() ?? 0
            let b = band.doubleValue
            response.confidence = outcome.shouldRebalance ? min(1, 0.5 + 0.5 * (largest - b) / b) : min(1, max(0.5, 0.5 + 0.5 * (b - largest) / b))
            return response
        }
    }

    /// 1/n for each ticker, rounded down to 10 places so the weights never add up above 1.
    static func equalWeights(_ tickers: Set<String>) throws -> [String: String] {
        guard !tickers.isEmpty else { return [:] }
        let count = ExactDecimal(tickers.count)
        var weight = try ExactDecimal(1).divided(by: count, scale: 10)
        if try weight.multiplied(by: count) > ExactDecimal(1) { weight = try weight.subtracting(ExactDecimal("0.0000000001")!) }
        return Dictionary(uniqueKeysWithValues: tickers.map { ($0, weight.description) })
    }

    // MARK: The DQN policy

    public func trainPolicy(request: Ultracore_Holdings_V1_TrainPolicyRequest, response: ResponseWriter<Ultracore_Holdings_V1_TrainPolicyProgress>,
                            context: ServerContext) async throws {
        try await ServiceError.mapping {
            let input = try PolicyTrainingInput(request)
            let requestId = try RequestParsing.requestId(request.requestId)
            let fingerprint = RequestFingerprint.of(request)
            // A policy's id is fixed by its inputs: one trained before is answered as it stands.
            if let known = try await policies.load(input.policyId) {
                try await response.write(Self.final(PolicyStore.response(known.event, replayed: true)))
                return
            }
            var parent: LoadedPolicy?
            if !input.warmStart.isEmpty {
                guard let found = try await policies.load(input.warmStart) else {
                    throw DomainError.notFound("policy \(input.warmStart) not found")
                }
                guard found.tickers == input.tickers, found.network.inputs == input.environment.featureCount else {
                    throw DomainError.failedPrecondition(
                        "policy \(input.warmStart) was trained on \(found.tickers.joined(separator: ", ")); a warm start needs the same tickers in the same order")
                }
                parent = found
            }
            let trainer = DQNTrainer(environment: input.environment, settings: input.settings)
            guard policies.claim() else {
                throw RPCError(.resourceExhausted, "a policy is being trained; one training runs at a time, retry later")
            }
            defer { policies.release() }
            let stop = StopFlag()
            let (stream, continuation) = AsyncStream.makeStream(of: TrainingProgress.self, bufferingPolicy: .bufferingNewest(1))
            let clock = ContinuousClock()
            let lastSent = Mutex<ContinuousClock.Instant?>(nil)
            let writer = Task {
                for await step in stream {
                    var progress = Ultracore_Holdings_V1_TrainPolicyProgress()
                    progress.episode = Int32(step.episode)
                    progress.episodes = Int32(step.episodes)
                    progress.episodeReward = step.reward
                    progress.epsilon = step.epsilon
                    progress.loss = step.loss
                    do { try await response.write(progress) } catch { stop.set() }
                }
            }
            let trained: TrainedPolicy
            do {
                trained = try await withTaskCancellationHandler {
                    try await PolicyStore.train(trainer, start: parent?.network, stop: stop) { step in
                        let now = clock.now
                        let due = lastSent.withLock { last -> Bool in
                            guard step.episode == step.episodes || last.map({ now - $0 >= .milliseconds(100) }) ?? true else { return false }
                            last = now
                            return true
                        }
                        if due { continuation.yield(step) }
                    }
                } onCancel: {
                    stop.set()
                }
            } catch let stopped as DQNTrainer.Stop {
                continuation.finish()
                writer.cancel()
                switch stopped {
                case .cancelled:
                    if let deadline = context.deadline, deadline <= .now {
                        throw RPCError(.deadlineExceeded, "the deadline passed during training; nothing was recorded")
                    }
                    throw RPCError(.cancelled, "training was cancelled; nothing was recorded")
                case .tooShort(let reason):
                    throw DomainError.invalidArgument(field: "histories", reason: reason)
                }
            }
            continuation.finish()
            await writer.value
            var evaluation = trained.evaluation.map(PolicyStore.evaluationProto)
            let policySharpe = trained.evaluation[0].sharpe
            var promoted = trained.evaluation.dropFirst().allSatisfy { !(policySharpe <= $0.sharpe) } && !policySharpe.isNaN
            if let parent {
                let before = trainer.evaluate(parent.network)[0]
                var parentResult = PolicyStore.evaluationProto(before)
                parentResult.strategy = "parent"
                evaluation.append(parentResult)
                promoted = promoted && !(policySharpe <= before.sharpe)
            }
            let event = try await policies.record(input, trained, parent: parent, evaluation: evaluation, promoted: promoted,
                                                  requestId: requestId, fingerprint: fingerprint)
            try await response.write(Self.final(PolicyStore.response(event, replayed: false)))
        }
    }

    static func final(_ result: Ultracore_Holdings_V1_TrainPolicyResponse) -> Ultracore_Holdings_V1_TrainPolicyProgress {
        var progress = Ultracore_Holdings_V1_TrainPolicyProgress()
        progress.episodes = Int32(clamping: result.episodeRewards.count)
        progress.episode = progress.episodes
        progress.episodeReward = result.episodeRewards.last ?? 0
        progress.epsilon = result.finalEpsilon
        progress.loss = result.finalLoss
        progress.result = result
        return progress
    }

    public func recommendAction(request: Ultracore_Holdings_V1_RecommendActionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_RecommendActionResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let policyId = try Validation.identifier(request.policyId, field: "policy_id")
            let recent = try PolicyTrainingInput.priceHistories(request.recentPrices, field: "recent_prices",
                                                                periods: PolicyTrainingInput.recentPeriods, sameLength: false)
            let given = Dictionary(uniqueKeysWithValues: recent.map { ($0.ticker, $0.prices) })
            guard let policy = try await policies.load(policyId) else {
                throw DomainError.notFound("policy \(policyId) not found (AgentService.TrainPolicy creates policies)")
            }
            for ticker in given.keys where !policy.tickers.contains(ticker) {
                throw DomainError.invalidArgument(field: "recent_prices", reason: "names \(ticker), which policy \(policyId) was not trained on")
            }
            let state = try await policies.state(of: client, policy: policy, given: given)
            let (choice, values) = DQNTrainer.greedy(policy.network, state.features)
            var response = Ultracore_Holdings_V1_RecommendActionResponse()
            response.action = .init(choice)
            response.qValues = PolicyChoice.allCases.map { action in
                var value = Ultracore_Holdings_V1_ActionValue()
                value.action = .init(action)
                value.qValue = values[action.rawValue]
                return value
            }
            response.state = state.features
            let proposed = state.environment.apply(choice, to: state.weights, at: state.period)
            for (index, ticker) in policy.tickers.enumerated() {
                response.weights[ticker] = state.exactWeights[index].description
                response.proposedWeights[ticker] = Self.decimal(proposed[index])
            }
            return response
        }
    }

    /// A weight computed in floating point as a decimal string, half-even at 10 places.
    static func decimal(_ value: Double) -> String {
        let text = String(format: "%.10f", value)
        return ExactDecimal(text)?.description ?? text
    }

    // MARK: Alerts

    public func listAlerts(request: Ultracore_Holdings_V1_ListAlertsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListAlertsResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let limit = try Validation.limit(request.maxAlerts, fallback: 100, maximum: 1_000, field: "max_alerts")
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let stored = try await model.pool.withConnection {
                try ReadModels.alerts(client: client, includeCleared: request.includeCleared, limit: limit, on: $0)
            }
            var response = Ultracore_Holdings_V1_ListAlertsResponse()
            response.alerts = stored.map(Self.record)
            return response
        }
    }

    static func record(_ stored: ReadModels.StoredAlert) -> Ultracore_Holdings_V1_AlertRecord {
        var record = Ultracore_Holdings_V1_AlertRecord()
        if let alert = stored.alert { record.alert = alert }
        record.raisedEventId = stored.raised.eventId
        if let at = stored.raised.occurredAt { record.raisedAt = at }
        if let at = stored.cleared?.occurredAt { record.clearedAt = at }
        if let at = stored.acknowledgedAt { record.acknowledgedAt = at.timestamp }
        record.acknowledgedBy = stored.acknowledgedBy
        record.note = stored.note
        return record
    }

    public func acknowledgeAlert(request: Ultracore_Holdings_V1_AcknowledgeAlertRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_AcknowledgeAlertResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.write, client: client, requestId: request.requestId)
            let alertId = try Validation.identifier(request.alertId, field: "alert_id")
            guard request.note.utf8.count <= 1_000 else {
                throw DomainError.invalidArgument(field: "note", reason: "is longer than 1,000 bytes")
            }
            let requestId = try RequestParsing.requestId(request.requestId)
            guard model.acknowledging(alertId) else {
                throw RPCError(.aborted, "alert \(alertId) is being acknowledged by another call; retry")
            }
            defer { model.acknowledged(alertId) }
            func current() async throws -> ReadModels.StoredAlert {
                try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
                guard let found = try await model.pool.withConnection({
                    try ReadModels.alerts(client: client, includeCleared: true, limit: 1, alertId: alertId, on: $0)
                }).first else {
                    throw DomainError.notFound("alert \(alertId) of client \(client) not found")
                }
                return found
            }
            let before = try await current()
            var response = Ultracore_Holdings_V1_AcknowledgeAlertResponse()
            if before.acknowledgedAt != nil {
                // A retry of the acknowledging request answers as the first time; anything else is a second acknowledgement.
                guard !requestId.isEmpty, before.acknowledgedRequestId == requestId else {
                    throw RPCError(.alreadyExists, "alert \(alertId) was acknowledged by \(before.acknowledgedBy)")
                }
                response.alert = Self.record(before)
                response.eventId = before.acknowledgedEventId
                return response
            }
            var ack = Ultracore_Holdings_V1_AlertAcknowledged()
            ack.alertId = alertId
            ack.clientId = client
            ack.note = request.note
            var event = model.context("AgentService.AcknowledgeAlert", requestId: requestId, now: .now)
                .envelope(aggregateId: "ack-" + alertId, version: 1, clientId: client)
            event.eventType = .alertAcknowledged
            event.payload = .alertAcknowledged(ack)
            try await model.recordOnAlertTopic(event)
            response.alert = Self.record(try await current())
            response.eventId = event.eventId
            return response
        }
    }
}
