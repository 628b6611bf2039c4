import COpenSSL
import Domain
import Foundation
import HoldingsProto
import Learning
import RPCCore
import Store
import Synchronization

/// A trained policy as the service uses it: its network, tickers, targets and rules.
struct LoadedPolicy: Sendable {
    var event: Ultracore_Holdings_V1_Event
    var trained: Ultracore_Holdings_V1_PolicyTrained
    var network: Network
    var rules: EnvironmentRules
    var targets: [Double]
    var tickers: [String]
}

/// A TrainPolicy request, checked: the environment, the settings and the policy's id.
struct PolicyTrainingInput: Sendable {
    var tickers: [String]
    var prices: [[Double]]
    var exactPrices: [[ExactDecimal]]
    var targets: [Double]
    var exactTargets: [String: ExactDecimal]
    var rules: EnvironmentRules
    var settings: DQNSettings
    var riskPenalty: Double
    var costBps: Double
    var warmStart: String
    var dataHash: String
    var policyId: String

    static let window = 10
    static let maxTickers = 50
    static let periods = 30...100_000
    /// Recent prices RecommendAction takes per ticker.
    static let recentPeriods = 11...100_000
    static let episodes = 1...10_000

    init(_ request: Ultracore_Holdings_V1_TrainPolicyRequest) throws(DomainError) {
        guard (1...Self.maxTickers).contains(request.histories.count) else {
            throw .invalidArgument(field: "histories", reason: "must hold 1 to \(Self.maxTickers) tickers, not \(request.histories.count)")
        }
        let histories = try Self.priceHistories(request.histories, field: "histories", periods: Self.periods, sameLength: true)
        let tickers = histories.map(\.ticker), exact = histories.map(\.prices)
        let prices = exact.map { $0.map(\.doubleValue) }
        guard Self.episodes.contains(Int(request.episodes)) else {
            throw .invalidArgument(field: "episodes", reason: "must be 1 to 10,000, not \(request.episodes)")
        }
        let learningRate = request.learningRate == 0 ? 0.001 : request.learningRate
        guard learningRate.isFinite, learningRate > 0, learningRate <= 1 else {
            throw .invalidArgument(field: "learning_rate", reason: "must be more than 0 and at most 1 (0 means 0.001), not \(request.learningRate)")
        }
        let discount = request.discount == 0 ? 0.99 : request.discount
        guard discount.isFinite, discount > 0, discount < 1 else {
            throw .invalidArgument(field: "discount", reason: "must be strictly between 0 and 1 (0 means 0.99), not \(request.discount)")
        }
        guard request.riskPenalty.isFinite, (0...100).contains(request.riskPenalty) else {
            throw .invalidArgument(field: "risk_penalty", reason: "must be 0 to 100, not \(request.riskPenalty)")
        }
        let costBps = request.costBps == 0 ? 10 : request.costBps
        guard costBps.isFinite, costBps > 0, costBps <= 1000 else {
            throw .invalidArgument(field: "cost_bps", reason: "must be 0 to 1,000 basis points (0 means 10), not \(request.costBps)")
        }
        var exactTargets: [String: ExactDecimal] = [:]
        if request.targetWeights.isEmpty {
            let n = ExactDecimal(tickers.count)
            let share = (try? ExactDecimal(1).divided(by: n, scale: 10)) ?? .zero
            for ticker in tickers { exactTargets[ticker] = share }
        } else {
            exactTargets = try TargetWeights.parse(request.targetWeights, field: "target_weights")
            for ticker in exactTargets.keys where !tickers.contains(ticker) {
                throw .invalidArgument(field: "target_weights[\(ticker)]", reason: "names a ticker without a history")
            }
            var sum = ExactDecimal.zero
            for value in exactTargets.values { sum = (try? sum.adding(value)) ?? sum }
            guard sum == ExactDecimal(1) else {
                throw .invalidArgument(field: "target_weights", reason: "must sum to exactly 1, not \(sum)")
            }
        }
        // 1/N as a double when no targets were given (the exact shares above are for the record).
        let targets = request.targetWeights.isEmpty ? tickers.map { _ in 1 / Double(tickers.count) }
                                                    : tickers.map { exactTargets[$0]?.doubleValue ?? 0 }
        if !request.warmStartPolicyId.isEmpty { _ = try Validation.identifier(request.warmStartPolicyId, field: "warm_start_policy_id") }

        var rules = EnvironmentRules()
        rules.window = Self.window
        rules.costRate = costBps / 10_000
        rules.riskAversion = request.riskPenalty
        var settings = DQNSettings(episodes: Int(request.episodes), seed: UInt64(bitPattern: request.seed))
        settings.learningRate = learningRate
        settings.discount = discount
        (self.tickers, self.prices, self.exactPrices, self.targets, self.exactTargets) = (tickers, prices, exact, targets, exactTargets)
        (self.rules, self.settings, self.riskPenalty, self.costBps, self.warmStart) = (rules, settings, request.riskPenalty, costBps, request.warmStartPolicyId)

        var data = ""
        for (ticker, row) in zip(tickers, exact) { data += ticker + "\n" + row.map(\.description).joined(separator: ",") + "\n" }
        dataHash = Digest.sha256Hex(Array(data.utf8))
        let targetsText = tickers.map { "\($0)=\(exactTargets[$0]?.description ?? "0")" }.joined(separator: ",")
        let identity = "v1|\(dataHash)|\(targetsText)|\(settings.episodes)|\(request.seed)|\(learningRate)|\(discount)|\(request.riskPenalty)|\(costBps)|\(warmStart)"
        policyId = "pol-" + Digest.sha256Hex(Array(identity.utf8)).prefix(24)
    }

    /// Price histories of a request, checked: valid and distinct tickers, a count of prices in
    /// `periods` (with `sameLength`, as many as the first history), each price an exact decimal
    /// above 0; INVALID_ARGUMENT naming the field otherwise.
    static func priceHistories(_ histories: [Ultracore_Holdings_V1_PriceHistory], field: String, periods: ClosedRange<Int>,
                               sameLength: Bool) throws(DomainError) -> [(ticker: String, prices: [ExactDecimal])] {
        var checked: [(ticker: String, prices: [ExactDecimal])] = []
        for (index, history) in histories.enumerated() {
            let field = "\(field)[\(index)]"
            guard (try? Validation.ticker(history.ticker)) != nil else {
                throw .invalidArgument(field: field + ".ticker", reason: "must be 1–12 characters of A–Z, 0–9, '.', '-'")
            }
            guard !checked.contains(where: { $0.ticker == history.ticker }) else {
                throw .invalidArgument(field: field + ".ticker", reason: "repeats \(history.ticker)")
            }
            guard periods.contains(history.prices.count) else {
                throw .invalidArgument(field: field + ".prices", reason: "must hold \(periods.lowerBound) to 100,000 prices, not \(history.prices.count)")
            }
            if sameLength, let first = histories.first, history.prices.count != first.prices.count {
                throw .invalidArgument(field: field + ".prices", reason: "holds \(history.prices.count) prices; histories[0] holds \(first.prices.count) (every history has the same length)")
            }
            var row: [ExactDecimal] = []
            row.reserveCapacity(history.prices.count)
            for (t, text) in history.prices.enumerated() { row.append(try Validation.positive(text, field: "\(field).prices[\(t)]")) }
            checked.append((history.ticker, row))
        }
        return checked
    }

    var environment: PortfolioEnvironment {
        PortfolioEnvironment(market: MarketHistory(prices: prices), rules: rules, targets: targets)
    }

    var settingsProto: Ultracore_Holdings_V1_PolicySettings {
        var proto = Ultracore_Holdings_V1_PolicySettings()
        proto.learningRate = settings.learningRate
        proto.discount = settings.discount
        proto.riskPenalty = riskPenalty
        proto.costBps = costBps
        proto.window = Int32(rules.window)
        proto.shift = rules.shift
        proto.trainFraction = settings.trainFraction
        return proto
    }
}

enum Digest {
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = bytes.withUnsafeBytes { input in
            EVP_Digest(input.baseAddress, input.count, &digest, &length, EVP_sha256(), nil)
        }
        return ReadModels.hex(digest)
    }
}


/// What the policy store keeps for the process: loaded policies and the training slot.
final class PolicyMemory: Sendable {
    let cache = Mutex<[String: LoadedPolicy]>([:])
    /// One training at a time (it takes a core).
    let training = Atomic<Bool>(false)

    init() {}
}

/// A flag a training thread polls to stop.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    init() {}
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Trained policies: training off the cooperative pool, recording, loading and caching.
struct PolicyStore: Sendable {
    let model: WriteModel
    let memory: PolicyMemory

    /// The writer key of POLICY_TRAINED events (they belong to no client).
    static let writerKey = "@policies"

    /// A policy by id: from the cache, else from the policies read model; nil when unknown.
    func load(_ policyId: String) async throws -> LoadedPolicy? {
        if let cached = memory.cache.withLock({ $0[policyId] }) { return cached }
        try await model.waitForAuditTrail()
        guard let event = try await model.pool.withConnection({ try ReadModels.loadPolicy(policyId, on: $0) }) else { return nil }
        let policy = try Self.loaded(event)
        memory.cache.withLock { $0[policyId] = policy }
        return policy
    }

    static func loaded(_ event: Ultracore_Holdings_V1_Event) throws -> LoadedPolicy {
        guard case .policyTrained(let trained)? = event.payload else {
            throw RPCError(.internal, "event \(event.eventId) is not a POLICY_TRAINED")
        }
        let bytes = [UInt8](trained.weights)
        guard bytes.count % 8 == 0 else { throw RPCError(.dataLoss, "policy \(trained.policyId): its weights are not float64s") }
        var parameters: [Double] = []
        parameters.reserveCapacity(bytes.count / 8)
        for k in stride(from: 0, to: bytes.count, by: 8) {
            var bits: UInt64 = 0
            for b in 0..<8 { bits |= UInt64(bytes[k + b]) << (8 * UInt64(b)) }
            parameters.append(Double(bitPattern: bits))
        }
        let network: Network
        do { network = try Network(sizes: trained.layerSizes.map(Int.init), parameters: parameters) } catch {
            throw RPCError(.dataLoss, "policy \(trained.policyId): \(error)")
        }
        var rules = EnvironmentRules()
        if let settings = trained.settings {
            rules.window = Int(settings.window)
            rules.costRate = settings.costBps / 10_000
            rules.riskAversion = settings.riskPenalty
            rules.shift = settings.shift
        }
        // A POLICY_TRAINED from the log is data like any other: its shapes are checked before the
        // network ever reads a state built from them.
        let tickers = trained.tickers.count
        guard (1...PolicyTrainingInput.maxTickers).contains(tickers), (1...1_000).contains(rules.window),
              rules.shift >= 0, rules.shift <= 1, rules.costRate.isFinite, rules.riskAversion.isFinite,
              network.inputs == tickers * (rules.window + 2), network.outputs == PolicyChoice.allCases.count else {
            throw RPCError(.dataLoss, "policy \(trained.policyId): its network (layers \(network.sizes)) does not fit its \(tickers) tickers and window \(rules.window)")
        }
        let targets = trained.tickers.map { trained.targetWeights[$0].flatMap(ExactDecimal.init)?.doubleValue ?? 0 }
        return LoadedPolicy(event: event, trained: trained, network: network, rules: rules, targets: targets, tickers: trained.tickers)
    }

    static func weightBytes(_ parameters: [Double]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(parameters.count * 8)
        for value in parameters {
            let bits = value.bitPattern
            for b in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(b)))) }
        }
        return bytes
    }

    /// Claims the training slot; false when a training runs.
    func claim() -> Bool { memory.training.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }
    func release() { memory.training.store(false, ordering: .releasing) }

    /// Trains on a thread of its own (never an event loop or the cooperative pool), sending
    /// progress to `progress`; `stop` is polled after every episode.
    static func train(_ trainer: DQNTrainer, start: Network?, stop: StopFlag,
                      progress: @escaping @Sendable (TrainingProgress) -> Void) async throws -> TrainedPolicy {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TrainedPolicy, any Error>) in
            let thread = Thread {
                do {
                    let trained = try trainer.train(start: start) { step in
                        progress(step)
                        return !stop.isSet
                    }
                    continuation.resume(returning: trained)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "policy-training"
            thread.stackSize = 1 << 22
            thread.start()
        }
    }

    /// The POLICY_TRAINED event of a training.
    func record(_ input: PolicyTrainingInput, _ trained: TrainedPolicy, parent: LoadedPolicy?, evaluation: [Ultracore_Holdings_V1_StrategyEvaluation],
                promoted: Bool, requestId: String, fingerprint: String) async throws -> Ultracore_Holdings_V1_Event {
        var payload = Ultracore_Holdings_V1_PolicyTrained()
        payload.policyId = input.policyId
        payload.episodes = Int32(input.settings.episodes)
        payload.seed = Int64(bitPattern: input.settings.seed)
        payload.meanReward = trained.meanReward
        payload.weights = Self.weightBytes(trained.network.parameters)
        payload.tickers = input.tickers
        payload.layerSizes = trained.network.sizes.map { Int32($0) }
        payload.targetWeights = input.exactTargets.mapValues(\.description)
        payload.settings = input.settingsProto
        payload.dataHash = input.dataHash
        payload.evaluation = evaluation
        payload.parentPolicyId = parent?.trained.policyId ?? ""
        payload.promoted = promoted
        payload.trainPeriods = Int32(trained.testStart - input.rules.window)
        payload.testPeriods = Int32(input.prices[0].count - 1 - trained.testStart)
        payload.finalLoss = trained.finalLoss
        payload.finalEpsilon = trained.finalEpsilon
        payload.episodeRewards = trained.episodeRewards
        payload.steps = Int64(trained.steps)
        var event = model.context("AgentService.TrainPolicy", requestId: requestId, now: .now)
            .envelope(aggregateId: input.policyId, version: 1, clientId: "")
        event.eventType = .policyTrained
        event.payload = .policyTrained(payload)
        if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
        try await model.recordClientEvent(event, client: Self.writerKey, requestId: requestId, fingerprint: fingerprint)
        memory.cache.withLock { $0[input.policyId] = try? Self.loaded(event) }
        return event
    }

    static func evaluationProto(_ result: StrategyResult) -> Ultracore_Holdings_V1_StrategyEvaluation {
        var proto = Ultracore_Holdings_V1_StrategyEvaluation()
        proto.strategy = result.name
        proto.totalReturn = result.totalReturn
        proto.sharpe = result.sharpe
        proto.maxDrawdown = result.maxDrawdown
        proto.turnover = result.turnover
        proto.actions = result.actions.map { Int32($0) }
        return proto
    }

    static func response(_ event: Ultracore_Holdings_V1_Event, replayed: Bool) -> Ultracore_Holdings_V1_TrainPolicyResponse {
        var response = Ultracore_Holdings_V1_TrainPolicyResponse()
        guard case .policyTrained(let trained)? = event.payload else { return response }
        response.policyId = trained.policyId
        response.episodeRewards = trained.episodeRewards
        response.meanReward = trained.meanReward
        response.finalLoss = trained.finalLoss
        response.finalEpsilon = trained.finalEpsilon
        response.evaluation = trained.evaluation
        response.promoted = trained.promoted
        response.dataHash = trained.dataHash
        response.trainPeriods = trained.trainPeriods
        response.testPeriods = trained.testPeriods
        response.steps = trained.steps
        response.replayed = replayed
        response.eventId = event.eventId
        return response
    }

    // MARK: A client's state

    /// The policy's view of a client now: weights over the policy's tickers and the last
    /// window + 1 prices of each (from `given`, else the client's valuations).
    struct ClientState {
        var weights: [Double]
        var exactWeights: [ExactDecimal]
        var environment: PortfolioEnvironment
        var features: [Double]
        var period: Int
    }

    func state(of client: String, policy: LoadedPolicy, given: [String: [ExactDecimal]]) async throws -> ClientState {
        let needed = policy.rules.window + 1
        var prices: [String: [ExactDecimal]] = [:]
        for (ticker, list) in given { prices[ticker] = Array(list.suffix(needed)) }
        let missing = Set(policy.tickers).subtracting(prices.keys)
        if !missing.isEmpty {
            try await model.waitForAuditTrail()
            let recorded = try await model.pool.withConnection {
                try ReadModels.recentTickerPrices(client: client, tickers: missing, count: needed, on: $0)
            }
            for ticker in missing { prices[ticker] = (recorded[ticker] ?? []).compactMap(ExactDecimal.init) }
        }
        for ticker in policy.tickers where (prices[ticker]?.count ?? 0) < needed {
            throw DomainError.failedPrecondition(
                "policy \(policy.trained.policyId) needs the last \(needed) prices of \(ticker); client \(client) has \(prices[ticker]?.count ?? 0) recorded and the request gives none (recent_prices)")
        }
        var values: [ExactDecimal] = []
        var total = ExactDecimal.zero
        let open = model.openSummaries(of: client)
        for ticker in policy.tickers {
            let value = try open.first { $0.ticker == ticker }?.marketValue() ?? .zero
            values.append(value)
            total = try total.adding(value)
        }
        guard total.isPositive else {
            throw DomainError.failedPrecondition("client \(client) holds none of the policy's tickers (\(policy.tickers.joined(separator: ", ")))")
        }
        let exactWeights = try values.map { try $0.divided(by: total) }
        let weights = exactWeights.map(\.doubleValue)
        let series = policy.tickers.map { (prices[$0] ?? []).map(\.doubleValue) }
        let environment = PortfolioEnvironment(market: MarketHistory(prices: series), rules: policy.rules, targets: policy.targets)
        let period = needed - 1
        return ClientState(weights: weights, exactWeights: exactWeights, environment: environment,
                           features: environment.features(weights: weights, at: period), period: period)
    }
}

extension Ultracore_Holdings_V1_PolicyAction {
    init(_ choice: PolicyChoice) {
        switch choice {
        case .hold: self = .hold
        case .rebalanceToTarget: self = .rebalanceToTarget
        case .increaseRisk: self = .increaseRisk
        case .decreaseRisk: self = .decreaseRisk
        }
    }
}
