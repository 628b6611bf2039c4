#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Value at risk and expected shortfall over one-period simple returns, each named by its
/// method. Historical figures are empyrical-reloaded 0.7's `value_at_risk` and
/// `conditional_value_at_risk`; parametric figures are the normal closed forms. Returns are
/// negative for a loss. Inputs are finite and at least 2 (checked by the caller).
public enum RiskMeasures {
    /// numpy's default (linear) percentile at `fraction` of `sorted` ascending values:
    /// h = (n − 1) × q, x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]), with q = (100 × fraction) ÷ 100
    /// as np.percentile computes it.
    public static func percentile(sorted values: [Double], fraction: Double) -> Double {
        guard let first = values.first else { return .nan }
        let q = (100 * fraction) / 100
        let position = Double(values.count - 1) * q
        guard position > 0 else { return first }
        let lower = Int(position.rounded(.down))
        guard lower + 1 < values.count else { return values[values.count - 1] }
        let gamma = position - Double(lower)
        let a = values[lower], b = values[lower + 1]
        // numpy's _lerp: from the nearer end, so the result stays within [a, b].
        return gamma >= 0.5 ? b - (b - a) * (1 - gamma) : a + (b - a) * gamma
    }

    /// empyrical `value_at_risk(returns, cutoff)`.
    public static func historicalValueAtRisk(_ returns: [Double], cutoff: Double) -> Double {
        percentile(sorted: returns.sorted(), fraction: cutoff)
    }

    /// empyrical `conditional_value_at_risk(returns, cutoff)`: the mean of the k + 1 smallest
    /// returns, k = ⌊(n − 1) × cutoff⌋.
    public static func historicalExpectedShortfall(_ returns: [Double], cutoff: Double) -> Double {
        expectedShortfall(sorted: returns.sorted(), cutoff: cutoff)
    }

    /// The same over returns sorted ascending (sort once for both historical measures).
    public static func expectedShortfall(sorted: [Double], cutoff: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let k = min(Int(Double(sorted.count - 1) * cutoff), sorted.count - 1)
        let tail = sorted.prefix(k + 1)
        return ReturnStatistics.sum(tail) / Double(tail.count)
    }

    /// Normal VaR: μ + σ Φ⁻¹(cutoff), σ with ddof = 1.
    public static func parametricValueAtRisk(_ returns: [Double], cutoff: Double) -> Double {
        let (mean, deviation) = moments(returns)
        return mean + deviation * NormalDistribution.quantile(cutoff)
    }

    /// Normal expected shortfall: μ − σ φ(Φ⁻¹(cutoff)) ÷ cutoff.
    public static func parametricExpectedShortfall(_ returns: [Double], cutoff: Double) -> Double {
        let (mean, deviation) = moments(returns)
        return mean - deviation * NormalDistribution.density(NormalDistribution.quantile(cutoff)) / cutoff
    }

    static func moments(_ returns: [Double]) -> (mean: Double, deviation: Double) {
        let deviation = ReturnStatistics.isConstant(returns) ? 0 : ReturnStatistics.sampleStandardDeviation(returns)
        return (ReturnStatistics.mean(returns), deviation)
    }

    /// Σ w² of the weights (Herfindahl–Hirschman index) and the largest weight.
    public static func concentration(_ weights: [Double]) -> (hhi: Double, largest: Double) {
        (ReturnStatistics.sum(weights.lazy.map { $0 * $0 }), weights.max() ?? 0)
    }

    /// The loss an amount of `value` takes at a one-period `tailReturn` over `horizon`
    /// periods, by the square root of time: max(0, −r) × √horizon × value, at most `value`
    /// (a long portfolio cannot lose more than it is worth).
    public static func loss(tailReturn: Double, horizon: Int, value: Double) -> Double {
        guard tailReturn < 0, value > 0 else { return 0 }
        return min(value, -tailReturn * Double(horizon).squareRoot() * value)
    }
}

/// The standard normal distribution.
public enum NormalDistribution {
    /// φ(x).
    public static func density(_ x: Double) -> Double {
        exp(-0.5 * x * x) / (2 * Double.pi).squareRoot()
    }

    /// Φ(x), from erfc (accurate in the lower tail).
    public static func cumulative(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot())
    }

    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation (relative error below
    /// 1.2e-9) refined by one Halley step on Φ, which brings it to a few ulps.
    public static func quantile(_ p: Double) -> Double {
        guard p > 0, p < 1 else { return p == 0 ? -.infinity : (p == 1 ? .infinity : .nan) }
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log1p(-p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        // Halley on Φ(x) − p, written from the tail nearer x (erfc keeps it accurate there).
        for _ in 0..<2 {
            let error = x <= 0 ? cumulative(x) - p : (1 - p) - 0.5 * erfc(x / 2.0.squareRoot())
            let u = error * (2 * Double.pi).squareRoot() * exp(x * x / 2)
            x -= u / (1 + x * u / 2)
        }
        return x
    }
}

/// Risk level from volatility and the largest weight, as RiskLevel documents in agent.proto.
public enum RiskGrade: Int, Sendable, Comparable {
    case low = 1, moderate, high, severe

    public static func < (a: RiskGrade, b: RiskGrade) -> Bool { a.rawValue < b.rawValue }

    public var name: String { ["low", "moderate", "high", "severe"][rawValue - 1] }

    /// Under 10 % low, 10–20 % moderate, 20–35 % high, above 35 % severe.
    public static func of(volatility: Double) -> RiskGrade {
        volatility > 0.35 ? .severe : volatility > 0.20 ? .high : volatility >= 0.10 ? .moderate : .low
    }

    /// Up to 25 % low, above 25 % moderate, above 40 % high, above 60 % severe.
    public static func of(largestWeight: Double) -> RiskGrade {
        largestWeight > 0.60 ? .severe : largestWeight > 0.40 ? .high : largestWeight > 0.25 ? .moderate : .low
    }
}
