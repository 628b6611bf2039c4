#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A statistic that has no value for the input (NaN on the wire), with the reason.
public struct Undefined: Sendable, Hashable {
    public var statistic: String
    public var reason: String

    public init(statistic: String, reason: String) {
        self.statistic = statistic
        self.reason = reason
    }
}

/// Performance and risk statistics over simple periodic returns, defined as
/// empyrical-reloaded 0.7 defines them (the formulas are in analytics.proto):
/// sample standard deviations use ddof = 1, means and standard deviations are
/// two-pass over compensated sums, `riskFree` and `required` are per period.
/// Inputs are finite and every return is more than −1 (checked by the caller).
public enum ReturnStatistics {
    /// Σ values, Neumaier-compensated (order-independent to about one ulp).
    static func sum(_ values: some Collection<Double>) -> Double {
        var sum = 0.0, compensation = 0.0
        for value in values {
            let total = sum + value
            if abs(sum) >= abs(value) {
                compensation += (sum - total) + value
            } else {
                compensation += (value - total) + sum
            }
            sum = total
        }
        return sum + compensation
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? .nan : sum(values) / Double(values.count)
    }

    /// Sample standard deviation (ddof = 1); NaN below two values.
    static func sampleStandardDeviation(_ values: [Double]) -> Double {
        guard values.count >= 2 else { return .nan }
        let average = mean(values)
        return (sum(values.lazy.map { ($0 - average) * ($0 - average) }) / Double(values.count - 1)).squareRoot()
    }

    /// Whether every value is the same (empyrical treats the dispersion as exactly 0).
    public static func isConstant(_ values: [Double]) -> Bool {
        guard let first = values.first else { return true }
        return values.allSatisfy { $0 == first }
    }

    /// Simple returns of a value series: v[i] ÷ v[i−1] − 1.
    public static func returns(values: [Double]) -> [Double] {
        guard values.count >= 2 else { return [] }
        return (1..<values.count).map { values[$0] / values[$0 - 1] - 1 }
    }

    /// Π(1 + r) − 1.
    public static func totalReturn(_ returns: [Double]) -> Double {
        guard !returns.isEmpty else { return .nan }
        return returns.reduce(1.0) { $0 * (1 + $1) } - 1
    }

    /// (Π(1 + r))^(periodsPerYear ÷ n) − 1 (empyrical's annual_return and cagr).
    public static func annualReturn(_ returns: [Double], periodsPerYear: Double) -> Double {
        guard !returns.isEmpty else { return .nan }
        let years = Double(returns.count) / periodsPerYear
        return pow(returns.reduce(1.0) { $0 * (1 + $1) }, 1 / years) - 1
    }

    /// std(r, ddof = 1) × periodsPerYear^(1/2).
    public static func annualVolatility(_ returns: [Double], periodsPerYear: Double) -> Double {
        sampleStandardDeviation(returns) * pow(periodsPerYear, 1.0 / 2.0)
    }

    /// mean(r − rf) ÷ std(r − rf, ddof = 1) × √periodsPerYear.
    public static func sharpe(_ returns: [Double], riskFree: Double, periodsPerYear: Double) -> (value: Double, undefined: String?) {
        guard returns.count >= 2 else { return (.nan, "needs at least 2 returns") }
        let adjusted = riskFree == 0 ? returns : returns.map { $0 - riskFree }
        guard !isConstant(adjusted) else { return (.nan, "zero volatility") }
        return (mean(adjusted) / sampleStandardDeviation(adjusted) * periodsPerYear.squareRoot(), nil)
    }

    /// sqrt(mean(min(r − required, 0)²)) × √periodsPerYear.
    public static func downsideRisk(_ returns: [Double], required: Double, periodsPerYear: Double) -> Double {
        guard !returns.isEmpty else { return .nan }
        let squares = returns.map { value -> Double in
            let shortfall = min(required == 0 ? value : value - required, 0)
            return shortfall * shortfall
        }
        return mean(squares).squareRoot() * periodsPerYear.squareRoot()
    }

    /// mean(r − required) × periodsPerYear ÷ downside risk.
    public static func sortino(_ returns: [Double], required: Double, periodsPerYear: Double) -> (value: Double, undefined: String?) {
        guard returns.count >= 2 else { return (.nan, "needs at least 2 returns") }
        let risk = downsideRisk(returns, required: required, periodsPerYear: periodsPerYear)
        guard risk > 0 else { return (.nan, "no return below the required return (zero downside risk)") }
        let adjusted = required == 0 ? returns : returns.map { $0 - required }
        return (mean(adjusted) * periodsPerYear / risk, nil)
    }

    /// The deepest fall of wealth below its running peak, with where it happened.
    public struct Drawdown: Sendable, Hashable {
        /// min over t of (wealth_t − peak_t) ÷ peak_t; 0 when wealth never fell.
        public var maxDrawdown: Double
        /// Indices in the wealth series (0 is the start, i is after the i-th return).
        public var peak: Int
        public var trough: Int
        /// First index after the trough where wealth regained the peak; nil if never.
        public var recovery: Int?
        /// Periods from the peak to the recovery, or to the end when not recovered.
        public var duration: Int
    }

    /// Wealth starts at 100 and compounds the returns (as empyrical's drawdown_series).
    /// With no fall at all: 0, peak = trough = recovery = 0, duration 0.
    public static func drawdown(_ returns: [Double]) -> Drawdown {
        var wealth = [100.0]
        wealth.reserveCapacity(returns.count + 1)
        var growth = 1.0
        for value in returns {
            growth *= 1 + value
            wealth.append(growth * 100)
        }
        var peakValue = wealth[0], peakIndex = 0
        var deepest = 0.0, deepestPeak = 0, trough = 0
        for (index, value) in wealth.enumerated() {
            if value >= peakValue { peakValue = value; peakIndex = index }
            let drawdown = (value - peakValue) / peakValue
            if drawdown < deepest { deepest = drawdown; trough = index; deepestPeak = peakIndex }
        }
        guard deepest < 0 else { return Drawdown(maxDrawdown: 0, peak: 0, trough: 0, recovery: 0, duration: 0) }
        let level = wealth[deepestPeak]
        let recovery = wealth.indices.first { $0 > trough && wealth[$0] >= level }
        return Drawdown(maxDrawdown: deepest, peak: deepestPeak, trough: trough, recovery: recovery,
                        duration: (recovery ?? (wealth.count - 1)) - deepestPeak)
    }

    /// The drawdown of explicit values, compared exactly (no rounded ratios): a value equal
    /// to the running peak is a new peak (the last of equal highs is the peak, as empyrical)
    /// and regains a peak (a recovery); the deepest fall is the smallest value ÷ peak, the
    /// earliest on ties.
    public static func drawdown(values: [ExactDecimal]) -> Drawdown {
        guard let first = values.first else { return Drawdown(maxDrawdown: 0, peak: 0, trough: 0, recovery: 0, duration: 0) }
        var peakValue = first, peakIndex = 0
        var deepestPeak = 0, trough = 0
        var found = false
        for (index, value) in values.enumerated() {
            if value >= peakValue { peakValue = value; peakIndex = index; continue }
            // value ÷ peak below the deepest ratio so far?
            if !found || ExactDecimal.compareRatios(value, peakValue, values[trough], values[deepestPeak]) < 0 {
                found = true
                trough = index
                deepestPeak = peakIndex
            }
        }
        guard found else { return Drawdown(maxDrawdown: 0, peak: 0, trough: 0, recovery: 0, duration: 0) }
        let level = values[deepestPeak]
        let recovery = values.indices.first { $0 > trough && values[$0] >= level }
        let fall = ((try? values[trough].subtracting(level)) ?? .zero).doubleValue / level.doubleValue
        return Drawdown(maxDrawdown: fall, peak: deepestPeak, trough: trough, recovery: recovery,
                        duration: (recovery ?? (values.count - 1)) - deepestPeak)
    }

    /// annual return ÷ |max drawdown|.
    public static func calmar(_ returns: [Double], periodsPerYear: Double) -> (value: Double, undefined: String?) {
        let drawdown = drawdown(returns).maxDrawdown
        guard drawdown < 0 else { return (.nan, "no drawdown") }
        let value = annualReturn(returns, periodsPerYear: periodsPerYear) / abs(drawdown)
        guard value.isFinite else { return (.nan, "annual return is not finite") }
        return (value, nil)
    }

    /// Statistics of a portfolio against a benchmark of the same length.
    public struct Relative: Sendable {
        public var alpha: Double
        public var beta: Double
        public var rSquared: Double
        public var informationRatio: Double
        public var trackingError: Double
        public var undefined: [Undefined]
    }

    /// beta = mean((b' − mean b') × r') ÷ mean((b' − mean b')²) with r' = r − rf, b' = b − rf
    /// (covariance over variance, as empyrical's beta_aligned); alpha =
    /// (1 + mean(r' − beta × b'))^periodsPerYear − 1; R² = corr(r', b')²; tracking error =
    /// std(r − b, ddof = 1) × √periodsPerYear; information ratio = mean(r − b) ÷ std(r − b, ddof = 1).
    public static func relative(_ returns: [Double], benchmark: [Double], riskFree: Double, periodsPerYear: Double) -> Relative {
        precondition(returns.count == benchmark.count)
        var result = Relative(alpha: .nan, beta: .nan, rSquared: .nan, informationRatio: .nan, trackingError: .nan, undefined: [])
        guard returns.count >= 2 else {
            for name in ["alpha", "beta", "r_squared", "information_ratio", "tracking_error"] {
                result.undefined.append(Undefined(statistic: name, reason: "needs at least 2 returns"))
            }
            return result
        }
        let r = riskFree == 0 ? returns : returns.map { $0 - riskFree }
        let b = riskFree == 0 ? benchmark : benchmark.map { $0 - riskFree }
        let benchmarkMean = mean(b)
        let residuals = b.map { $0 - benchmarkMean }
        let covariance = mean(zip(residuals, r).map { $0 * $1 })
        let variance = mean(residuals.map { $0 * $0 })
        if variance > 0 {
            result.beta = covariance / variance
            result.alpha = pow(mean(zip(r, b).map { $0 - result.beta * $1 }) + 1, periodsPerYear) - 1
            let returnsMean = mean(r)
            let returnsVariance = mean(r.map { ($0 - returnsMean) * ($0 - returnsMean) })
            if returnsVariance > 0 {
                let centered = mean(zip(r, residuals).map { ($0 - returnsMean) * $1 })
                result.rSquared = centered * centered / (returnsVariance * variance)
            } else {
                result.undefined.append(Undefined(statistic: "r_squared", reason: "the portfolio has zero volatility"))
            }
        } else {
            for name in ["alpha", "beta", "r_squared"] {
                result.undefined.append(Undefined(statistic: name, reason: "the benchmark has zero volatility"))
            }
        }
        let active = zip(returns, benchmark).map { $0 - $1 }
        if isConstant(active) {
            result.trackingError = 0
            result.undefined.append(Undefined(statistic: "information_ratio", reason: "zero tracking error"))
        } else {
            let deviation = sampleStandardDeviation(active)
            result.trackingError = deviation * periodsPerYear.squareRoot()
            result.informationRatio = mean(active) / deviation
        }
        return result
    }
}

/// Money-weighted return: the annual rate that makes the net present value of the
/// investor's flows zero, flows discounted by (1 + rate)^(days ÷ 365).
public enum MoneyWeightedReturn {
    public enum Failure: Error, Sendable, Hashable {
        /// Every flow has the same sign, or the NPV does not change sign on (−1, 10⁶].
        case noRoot(String)
    }

    /// The largest rate answered: 10^6 (100,000,000 % a year).
    public static let maximumRate = 1e6

    /// `flows`: (years since the first flow, amount; positive is money the investor receives).
    ///
    /// The rate r in (−1, 10^6] where Σ amount × (1 + r)^−years = 0. The NPV is evaluated
    /// scaled by its largest term (in logarithms), so its sign is exact-enough and finite over
    /// any span (60 years at −99.9 % or +10^6); a grid of rates from −1 + 10^−12 to 10^6 brackets
    /// every sign change, and bisection narrows the bracket to the last bit. When the NPV
    /// changes sign more than once, the root nearest to 0 is returned.
    public static func xirr(_ flows: [(years: Double, amount: Double)]) throws(Failure) -> Double {
        guard flows.contains(where: { $0.amount > 0 }), flows.contains(where: { $0.amount < 0 }) else {
            throw .noRoot("the flows need both a payment and a receipt")
        }
        let terms = flows.filter { $0.amount != 0 }
        /// The sign of the NPV at `rate` (−1, 0 or 1), from terms scaled by the largest one.
        func sign(_ rate: Double) -> Int {
            let growth = log1p(rate)
            let logs = terms.map { log(abs($0.amount)) - $0.years * growth }
            let largest = logs.max() ?? 0
            var positive: [Double] = [], negative: [Double] = []
            for (term, logged) in zip(terms, logs) {
                let value = exp(logged - largest)
                if term.amount > 0 { positive.append(value) } else { negative.append(value) }
            }
            let difference = ReturnStatistics.sum(positive) - ReturnStatistics.sum(negative)
            return difference > 0 ? 1 : (difference < 0 ? -1 : 0)
        }
        var grid: [Double] = (1...12).reversed().map { -1 + pow(10, -Double($0)) }
        grid += stride(from: -0.95, through: 1.0, by: 0.05).map { ($0 * 100).rounded() / 100 }
        var rate = 1.25
        while rate < maximumRate { grid.append(rate); rate *= 1.25 }
        grid.append(maximumRate)
        let signs = grid.map(sign)
        var best: (low: Double, high: Double)?
        for index in grid.indices {
            if signs[index] == 0 {
                if best.map({ abs(grid[index]) < min(abs($0.low), abs($0.high)) }) ?? true { best = (grid[index], grid[index]) }
                continue
            }
            guard index + 1 < grid.count, signs[index + 1] != 0, signs[index] != signs[index + 1] else { continue }
            let candidate = (grid[index], grid[index + 1])
            let distance = candidate.0 <= 0 && candidate.1 >= 0 ? 0 : min(abs(candidate.0), abs(candidate.1))
            if best.map({ distance < ($0.low <= 0 && $0.high >= 0 ? 0 : min(abs($0.low), abs($0.high))) }) ?? true { best = candidate }
        }
        guard var (low, high) = best else {
            throw .noRoot("the net present value of the flows does not change sign for rates in (−100 %, 10^6]")
        }
        let lowSign = sign(low)
        while low < high {
            let middle = low + (high - low) / 2
            if middle <= low || middle >= high { break }
            let value = sign(middle)
            if value == 0 { return middle }
            if value == lowSign { low = middle } else { high = middle }
        }
        return low + (high - low) / 2
    }
}

extension ExactDecimal {
    /// The nearest binary double (correctly rounded from the decimal text).
    public var doubleValue: Double { Double(description) ?? .nan }
}

/// External cash flows over a value series: flow-adjusted period returns (time-weighted)
/// and the investor's flows (money-weighted).
public enum PeriodFlows {
    /// Each flow belongs to the first observation at or after its time (the value observed
    /// there includes it): r_i = (v_i − flows_i) ÷ v_{i−1} − 1. Chaining these returns is the
    /// time-weighted return over sub-periods split at the flows.
    public static func adjusted(values: [Double], times: [Instant], flows: [(time: Instant, amount: ExactDecimal)]) throws(DomainError) -> [Double] {
        var into = [ExactDecimal](repeating: .zero, count: values.count)
        for (index, flow) in flows.enumerated() {
            guard let observation = times.indices.first(where: { $0 > 0 && times[$0] >= flow.time }) else {
                throw .invalidArgument(field: "cash_flows[\(index)].time", reason: "is after the last time of the series")
            }
            do { into[observation] = try into[observation].adding(flow.amount) } catch {
                throw .invalidArgument(field: "cash_flows[\(index)].amount", reason: "makes the flows of one period out of range")
            }
        }
        var returns: [Double] = []
        returns.reserveCapacity(values.count - 1)
        for index in 1..<values.count {
            let net = values[index] - into[index].doubleValue
            guard net > 0 else {
                throw .invalidArgument(field: "cash_flows", reason: "the value at point \(index) is not more than the flows into it")
            }
            returns.append(net / values[index - 1] - 1)
        }
        return returns
    }

    /// XIRR of the investor: pays the first value, pays each contribution (receives each
    /// withdrawal) on its date, receives the last value; years are days ÷ 365.
    public static func moneyWeighted(values: [Double], times: [Instant], flows: [(time: Instant, amount: ExactDecimal)]) throws(MoneyWeightedReturn.Failure) -> Double {
        let start = times[0]
        func years(_ time: Instant) -> Double { Double(time.microseconds - start.microseconds) / (365 * 86_400_000_000) }
        var investor: [(years: Double, amount: Double)] = [(0, -values[0])]
        for flow in flows { investor.append((years(flow.time), -flow.amount.doubleValue)) }
        investor.append((years(times[times.count - 1]), values[values.count - 1]))
        return try MoneyWeightedReturn.xirr(investor)
    }
}
