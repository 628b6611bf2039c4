import HoldingsProto

/// The monitoring agent's rules over a client's open positions. Pure: the caller passes
/// the positions and, for anomalies, each position's valuation history.
public struct PortfolioMonitor: Sendable {
    /// Absolute drift (fraction of 1) that raises a DRIFT alert; twice it is CRITICAL.
    public var driftThreshold: ExactDecimal
    /// Weight above which a position raises CONCENTRATION; 1.5 times it is CRITICAL.
    public var concentrationLimit: ExactDecimal
    /// Target weight per ticker.
    public var targets: [String: ExactDecimal]
    /// |z| of the latest price move against the position's earlier moves that raises ANOMALY.
    public static let anomalyZ = 3.0
    /// Herfindahl index (sum of squared weights) above which the portfolio raises RISK.
    public static let maxConcentrationIndex = ExactDecimal("0.5")!

    public init(_ request: Ultracore_Holdings_V1_MonitorPortfolioRequest) throws(DomainError) {
        func fraction(_ text: String, _ fallback: String, _ field: String) throws(DomainError) -> ExactDecimal {
            let value = try Validation.positive(text.isEmpty ? fallback : text, field: field)
            guard value <= ExactDecimal(1) else { throw .invalidArgument(field: field, reason: "must be a fraction of 1") }
            return value
        }
        driftThreshold = try fraction(request.driftThreshold, "0.05", "drift_threshold")
        concentrationLimit = try fraction(request.concentrationLimit, "0.25", "concentration_limit")
        var targets: [String: ExactDecimal] = [:]
        var total = ExactDecimal.zero
        for (ticker, weight) in request.targetWeights.sorted(by: { $0.key < $1.key }) {
            let symbol: String
            do { symbol = try Validation.ticker(ticker) } catch {
                throw .invalidArgument(field: "target_weights", reason: "key '\(ticker.prefix(20))' is not a ticker")
            }
            let value = try Validation.nonNegative(weight, field: "target_weights[\(symbol)]")
            targets[symbol] = value
            total = try LotEngine.add(total, value)
        }
        guard total <= ExactDecimal(1) else {
            throw .invalidArgument(field: "target_weights", reason: "add up to \(total), more than 1")
        }
        self.targets = targets
    }

    /// Alerts, most severe first. `history` holds each position's valuation prices, oldest first.
    /// FAILED_PRECONDITION when the portfolio's total leaves the range of exact decimals
    /// (±10^18: more than 1,000 positions at the ±10^15 limit), never a total that drops one.
    public func assess(_ positions: [PositionState], history: [String: [Double]]) throws(DomainError) -> [Ultracore_Holdings_V1_Alert] {
        try assess(open: positions.filter { $0.status == .open }.map(\.summary), history: history)
    }

    /// The same over the open positions' valuation figures.
    public func assess(open positions: [PositionSummary], history: [String: [Double]]) throws(DomainError) -> [Ultracore_Holdings_V1_Alert] {
        var alerts: [Ultracore_Holdings_V1_Alert] = []
        // Values and weights by index into `positions` (no copies of the positions, no table of
        // every ticker: a 20,000-position assessment spent most of its time there).
        var values: [ExactDecimal] = []
        values.reserveCapacity(positions.count)
        var total = ExactDecimal.zero
        for position in positions {
            // The valuation rule of every portfolio read: last price, or cost when never priced.
            let value = try position.marketValue()
            values.append(value)
            do { total = try total.adding(value) } catch {
                throw .failedPrecondition("the portfolio adds up beyond the range of exact decimals (±10^18)")
            }
        }
        guard total.isPositive else { return [] }
        var weights: [ExactDecimal] = []
        weights.reserveCapacity(values.count)
        var targeted: [String: Int] = [:]
        for (index, position) in positions.enumerated() {
            let weight = (try? values[index].divided(by: total)) ?? .zero
            weights.append(weight)
            if targets[position.ticker] != nil { targeted[position.ticker] = index }
            if weight > concentrationLimit {
                let critical = (try? concentrationLimit.multiplied(by: ExactDecimal("1.5")!)).map { weight > $0 } ?? false
                alerts.append(alert(.concentration, critical ? .critical : .warning, position,
                                    "\(position.ticker) is \(weight) of the portfolio, above the limit \(concentrationLimit)",
                                    observed: weight, threshold: concentrationLimit))
            }
        }
        for (ticker, target) in targets.sorted(by: { $0.key < $1.key }) {
            let current = targeted[ticker].map { weights[$0] } ?? .zero
            guard let drift = try? current.subtracting(target) else { continue }
            let size = drift.magnitude
            guard size > driftThreshold else { continue }
            let critical = (try? driftThreshold.multiplied(by: ExactDecimal(2))).map { size > $0 } ?? false
            var found = alert(.drift, critical ? .critical : .warning, targeted[ticker].map { positions[$0] },
                              "\(ticker) weighs \(current) against a target of \(target): drift \(drift)",
                              observed: drift, threshold: driftThreshold)
            found.ticker = ticker
            alerts.append(found)
        }
        for position in positions {
            guard let prices = history[position.positionId], prices.count >= 7 else { continue }
            var moves: [Double] = []
            for index in 1..<prices.count where prices[index - 1] > 0 && prices[index] > 0 {
                moves.append((prices[index] / prices[index - 1]).logValue)
            }
            guard let latest = moves.last, moves.count >= 6 else { continue }
            let earlier = moves.dropLast()
            let mean = earlier.reduce(0, +) / Double(earlier.count)
            let variance = earlier.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(earlier.count - 1)
            let deviation = variance.squareRoot()
            guard deviation > 1e-12 else { continue }
            let z = (latest - mean) / deviation
            if abs(z) > Self.anomalyZ {
                let observed = ExactDecimal(String(format(z, places: 3))) ?? .zero
                alerts.append(alert(.anomaly, abs(z) > 2 * Self.anomalyZ ? .critical : .warning, position,
                                    "the last valuation of \(position.ticker) moved \(format(z, places: 3)) standard deviations from its usual moves",
                                    observed: observed, threshold: ExactDecimal("3")!))
            }
        }
        let index = weights.reduce(ExactDecimal.zero) { sum, weight in
            (try? weight.multiplied(by: weight, scale: 10)).flatMap { try? sum.adding($0) } ?? sum
        }
        if values.count > 0, index > Self.maxConcentrationIndex {
            alerts.append(alert(.risk, .warning, nil,
                                "the portfolio is concentrated: Herfindahl index \(index) above \(Self.maxConcentrationIndex)",
                                observed: index, threshold: Self.maxConcentrationIndex))
        }
        return alerts.sorted { $0.severity.rawValue > $1.severity.rawValue }
    }

    private func alert(_ kind: Ultracore_Holdings_V1_AlertKind, _ severity: Ultracore_Holdings_V1_AlertSeverity,
                       _ position: PositionSummary?, _ message: String, observed: ExactDecimal,
                       threshold: ExactDecimal) -> Ultracore_Holdings_V1_Alert {
        var alert = Ultracore_Holdings_V1_Alert()
        alert.kind = kind
        alert.severity = severity
        alert.ticker = position?.ticker ?? ""
        alert.positionId = position?.positionId ?? ""
        alert.message = message
        alert.observed = observed.description
        alert.threshold = threshold.description
        return alert
    }
}

extension Double {
    /// Natural logarithm by range reduction and a series (Domain stays free of Foundation).
    var logValue: Double {
        guard self > 0 else { return -.infinity }
        var x = self
        var k = 0.0
        while x > 2 { x /= 2.718281828459045; k += 1 }
        while x < 0.5 { x *= 2.718281828459045; k -= 1 }
        // ln(x) = 2 atanh((x-1)/(x+1))
        let y = (x - 1) / (x + 1)
        var term = y, sum = 0.0, n = 1.0
        for _ in 0..<40 {
            sum += term / n
            term *= y * y
            n += 2
        }
        return k + 2 * sum
    }
}
