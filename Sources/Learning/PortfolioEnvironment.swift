/// The decisions the policy chooses from (agent.proto's PolicyAction, in its order).
public enum PolicyChoice: Int, CaseIterable, Sendable {
    /// Keep the current weights.
    case hold = 0
    /// Trade back to the target weights.
    case rebalanceToTarget
    /// Move `shift` of the portfolio toward the asset with the highest trailing volatility.
    case increaseRisk
    /// Move `shift` of the portfolio toward the asset with the lowest trailing volatility.
    case decreaseRisk
}

/// The rules of the environment (agent.proto's TrainPolicyRequest documents each).
public struct EnvironmentRules: Sendable, Hashable {
    /// Trailing returns per asset in the state.
    public var window = 10
    /// Cost per unit of turnover (Σ|w′ − w|), a fraction: 0.001 is 10 bps.
    public var costRate = 0.001
    /// Risk penalty λ: reward = 100 × (r − (½ + λ) r²) with r the period's return after costs.
    public var riskAversion = 1.0
    /// Fraction of the portfolio INCREASE_RISK and DECREASE_RISK move.
    public var shift = 0.10
    /// Steps per training episode at most.
    public var episodeLength = 252
    /// Periods per year, for annualized figures.
    public var periodsPerYear = 252.0

    public init() {}
}

/// Price histories turned into per-period simple returns (returns[t][i] is asset i's return
/// from period t − 1 to t; returns[0] is zero).
public struct MarketHistory: Sendable {
    public let assets: Int
    public let periods: Int
    public let returns: [[Double]]

    /// `prices[i][t]`: asset i at period t, every price > 0 and every history the same length.
    public init(prices: [[Double]]) {
        assets = prices.count
        periods = prices.first?.count ?? 0
        var returns = [[Double]](repeating: [Double](repeating: 0, count: prices.count), count: periods)
        for t in 1..<max(periods, 1) {
            for i in 0..<assets { returns[t][i] = prices[i][t] / prices[i][t - 1] - 1 }
        }
        self.returns = returns
    }

    public init(returns: [[Double]]) {
        self.returns = returns
        periods = returns.count
        assets = returns.first?.count ?? 0
    }
}

/// The portfolio environment: at period t the agent sees its weights, the last `window` returns
/// of each asset and their trailing volatility, chooses an action, pays costs on the turnover,
/// and earns the next period's return.
public struct PortfolioEnvironment: Sendable {
    public let market: MarketHistory
    public let rules: EnvironmentRules
    public let targets: [Double]

    public init(market: MarketHistory, rules: EnvironmentRules, targets: [Double]) {
        self.market = market
        self.rules = rules
        self.targets = targets
    }

    /// Features: n weights, n × window returns in percent (oldest first, asset after asset),
    /// n trailing volatilities in percent (population standard deviation over the window).
    public var featureCount: Int { market.assets * (rules.window + 2) }

    /// The first period a state can be built at (a full window of returns behind it).
    public var firstPeriod: Int { rules.window }

    public func features(weights: [Double], at t: Int) -> [Double] {
        var features = weights
        features.reserveCapacity(featureCount)
        for i in 0..<market.assets {
            for lag in stride(from: rules.window - 1, through: 0, by: -1) { features.append(100 * market.returns[t - lag][i]) }
        }
        for i in 0..<market.assets { features.append(100 * volatility(asset: i, at: t)) }
        return features
    }

    /// Population standard deviation of the asset's last `window` returns up to t.
    public func volatility(asset i: Int, at t: Int) -> Double {
        let n = Double(rules.window)
        var mean = 0.0
        for lag in 0..<rules.window { mean += market.returns[t - lag][i] }
        mean /= n
        var sum = 0.0
        for lag in 0..<rules.window {
            let d = market.returns[t - lag][i] - mean
            sum += d * d
        }
        return (sum / n).squareRoot()
    }

    /// The weights an action leads to from `weights` at period t.
    public func apply(_ choice: PolicyChoice, to weights: [Double], at t: Int) -> [Double] {
        switch choice {
        case .hold:
            return weights
        case .rebalanceToTarget:
            return targets
        case .increaseRisk, .decreaseRisk:
            var moved = weights.map { $0 * (1 - rules.shift) }
            moved[leaning(choice, at: t)] += rules.shift
            return moved
        }
    }

    /// The asset INCREASE_RISK (the highest trailing volatility) or DECREASE_RISK (the lowest)
    /// leans toward at period t; the lowest index on ties.
    public func leaning(_ choice: PolicyChoice, at t: Int) -> Int {
        var chosen = 0
        var best = volatility(asset: 0, at: t)
        for i in 1..<market.assets {
            let v = volatility(asset: i, at: t)
            if choice == .increaseRisk ? v > best : v < best { (chosen, best) = (i, v) }
        }
        return chosen
    }

    /// One period: from `weights` trade to `next` at the end of period t, pay the costs, earn
    /// period t + 1. Returns the net return, the turnover and the drifted weights.
    public func step(from weights: [Double], to next: [Double], at t: Int) -> (net: Double, turnover: Double, weights: [Double]) {
        var turnover = 0.0
        for i in 0..<market.assets { turnover += abs(next[i] - weights[i]) }
        let returns = market.returns[t + 1]
        var gross = 0.0
        for i in 0..<market.assets { gross += next[i] * returns[i] }
        let cost = rules.costRate * turnover
        var drifted = next
        if 1 + gross > 0 {
            for i in 0..<market.assets { drifted[i] = next[i] * (1 + returns[i]) / (1 + gross) }
        }
        return (gross - cost, turnover, drifted)
    }

    /// reward = 100 × (r − (½ + λ) r²): r − r²/2 is ln(1 + r) to second order, and λ penalizes
    /// variance. No transcendental function, so training is bit-identical on every machine.
    public func reward(_ net: Double) -> Double {
        100 * (net - (0.5 + rules.riskAversion) * net * net)
    }
}

/// Out-of-sample figures of one strategy.
public struct StrategyResult: Sendable, Hashable {
    public var name: String
    /// Π(1 + r) − 1 over the period.
    public var totalReturn: Double
    /// mean(r) ÷ std(r, ddof = 1) × √periodsPerYear; NaN when the returns do not vary.
    public var sharpe: Double
    /// The deepest fall of wealth below its running peak, ≤ 0.
    public var maxDrawdown: Double
    /// Σ|w′ − w| over the period.
    public var turnover: Double
    /// Actions taken, counted by PolicyChoice (the policy only).
    public var actions: [Int]

    public init(name: String, returns: [Double], turnover: Double, periodsPerYear: Double, actions: [Int] = []) {
        self.name = name
        self.turnover = turnover
        self.actions = actions
        var wealth = 1.0, peak = 1.0, drawdown = 0.0
        for r in returns {
            wealth *= 1 + r
            peak = max(peak, wealth)
            drawdown = min(drawdown, wealth / peak - 1)
        }
        totalReturn = wealth - 1
        maxDrawdown = drawdown
        if returns.count >= 2 {
            var mean = 0.0
            for r in returns { mean += r }
            mean /= Double(returns.count)
            var sum = 0.0
            for r in returns { sum += (r - mean) * (r - mean) }
            let deviation = (sum / Double(returns.count - 1)).squareRoot()
            sharpe = deviation > 0 ? mean / deviation * periodsPerYear.squareRoot() : .nan
        } else {
            sharpe = .nan
        }
    }
}

extension PortfolioEnvironment {
    /// Runs a strategy from period `start` (a state period) to the end of the history, starting
    /// at the target weights. `decide` maps (weights, t) to the weights to hold over t + 1.
    public func run(name: String, from start: Int, actions: [Int] = [],
                    _ decide: (_ weights: [Double], _ t: Int) -> [Double]) -> StrategyResult {
        var weights = targets, returns: [Double] = [], turnover = 0.0
        var t = start
        while t + 1 < market.periods {
            let next = decide(weights, t)
            let outcome = step(from: weights, to: next, at: t)
            returns.append(outcome.net)
            turnover += outcome.turnover
            weights = outcome.weights
            t += 1
        }
        return StrategyResult(name: name, returns: returns, turnover: turnover, periodsPerYear: rules.periodsPerYear, actions: actions)
    }

    /// The baselines: buy and hold from the targets, 1/N rebalanced every period, and the
    /// targets rebalanced when an asset drifts more than 5 points (absolute) from its target.
    public func baselines(from start: Int) -> [StrategyResult] {
        let n = market.assets
        let equal = [Double](repeating: 1 / Double(n), count: n)
        return [
            run(name: "buy_and_hold", from: start) { weights, _ in weights },
            run(name: "equal_weight_rebalanced", from: start) { _, _ in equal },
            run(name: "target_threshold_5pct", from: start) { weights, _ in
                zip(weights, targets).contains { abs($0 - $1) > 0.05 } ? targets : weights
            },
        ]
    }
}
