import Domain
import Foundation
import HoldingsProto
import Testing

/// The agent's pure parts: the normal quantile, empyrical's percentile rule, and the anomaly
/// detector's false-positive rate on clean random walks.
@Suite struct AgentTests {
    /// Φ⁻¹ against values published to 16 digits (and Φ(Φ⁻¹(p)) = p across the range).
    @Test func normalQuantileIsAccurateToAFewUlps() {
        let known: [(Double, Double)] = [
            (0.5, 0), (0.975, 1.959963984540054), (0.95, 1.6448536269514722), (0.99, 2.3263478740408408),
            (0.01, -2.3263478740408408), (0.001, -3.090232306167813), (1e-10, -6.361340902404056),
            (0.02425, -1.972961051311885), (0.84134474606854293, 1.0),
        ]
        for (p, x) in known {
            let ours = NormalDistribution.quantile(p)
            #expect(abs(ours - x) <= 4e-15 * max(1, abs(x)), "Φ⁻¹(\(p)) = \(ours), not \(x)")
        }
        var random = SplitMix(state: 5)
        for _ in 0..<10_000 {
            let p = Double.random(in: 1e-12..<1, using: &random)
            let x = NormalDistribution.quantile(p)
            let back = x <= 0 ? NormalDistribution.cumulative(x) : 1 - 0.5 * erfc(x / 2.0.squareRoot())
            #expect(abs(back - p) <= 1e-14 * max(p, 1e-3), "Φ(Φ⁻¹(\(p))) = \(back)")
        }
        #expect(NormalDistribution.quantile(0) == -.infinity && NormalDistribution.quantile(1) == .infinity)
        #expect(NormalDistribution.quantile(1.5).isNaN)
    }

    /// numpy's linear percentile and empyrical's tail mean on small hand-checked cases.
    @Test func percentileAndTailMeanFollowNumpyAndEmpyrical() {
        #expect(RiskMeasures.percentile(sorted: [1, 2, 3, 4], fraction: 0.125) == 1.375)
        #expect(RiskMeasures.percentile(sorted: [1, 2, 3, 4], fraction: 0) == 1)
        #expect(RiskMeasures.percentile(sorted: [1, 2, 3, 4], fraction: 1) == 4)
        #expect(RiskMeasures.historicalValueAtRisk([0.03, -0.05, 0.01, -0.02, 0.0], cutoff: 0.25) == -0.02)
        // k = ⌊4 × 0.5⌋ = 2: the mean of the three smallest.
        #expect(abs(RiskMeasures.historicalExpectedShortfall([0.03, -0.05, 0.01, -0.02, 0.0], cutoff: 0.5) - (-0.07 / 3)) < 1e-15)
        #expect(RiskMeasures.loss(tailReturn: -0.02, horizon: 4, value: 1000) == 40)
        #expect(RiskMeasures.loss(tailReturn: 0.01, horizon: 4, value: 1000) == 0)
        #expect(RiskMeasures.loss(tailReturn: -0.9, horizon: 16, value: 1000) == 1000)
    }

    static func valued(_ n: Int, ticker: String, price: Double) -> Ultracore_Holdings_V1_Event {
        var valued = Ultracore_Holdings_V1_PositionValued()
        valued.positionId = "P-\(ticker)"
        valued.ticker = ticker
        valued.price = format(price, places: 4)
        var event = Ultracore_Holdings_V1_Event()
        event.eventId = String(format: "00000000-0000-4000-8000-%012x", n)
        event.eventType = .positionValued
        event.occurredAt = Instant(microseconds: 1_704_067_200_000_000 + Int64(n) * 1_000_000).timestamp
        event.payload = .positionValued(valued)
        return event
    }

    /// Gaussian by Box–Muller from the seeded generator.
    static func gauss(_ random: inout SplitMix) -> Double {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &random), v = Double.random(in: 0..<1, using: &random)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }

    /// On clean geometric random walks (normal log moves) nothing is a jump, so every flag is a
    /// false positive. At |z| > 3 on both scores the rate stays well under 1 %; a planted 8 σ jump
    /// in each walk is always found.
    @Test func falsePositiveRateOnCleanRandomWalksAndPlantedJumps() {
        var random = SplitMix(state: 2026)
        var events: [Ultracore_Holdings_V1_Event] = []
        var planted: Set<String> = []
        let walks = 200, steps = 250
        var n = 0
        for walk in 0..<walks {
            var price = 100.0
            let sigma = [0.005, 0.01, 0.02, 0.04][walk % 4]
            for step in 0..<steps {
                let jump = step == steps - 1
                price *= exp(jump ? 8 * sigma : sigma * Self.gauss(&random))
                n += 1
                let event = Self.valued(n, ticker: "W\(walk)", price: price)
                if jump { planted.insert(event.eventId) }
                events.append(event)
            }
        }
        let result = AnomalyDetector(threshold: 3, lookback: 30).detect(events)
        let flagged = Set(result.anomalies.map(\.eventId))
        #expect(planted.isSubset(of: flagged))
        let falsePositives = flagged.subtracting(planted).count
        let clean = result.examined - planted.count
        let rate = Double(falsePositives) / Double(clean)
        print("anomaly false-positive rate on clean random walks: \(falsePositives) of \(clean) moves = \(format(100 * rate, places: 3)) % (|z| > 3, lookback 30)")
        #expect(result.examined == walks * (steps - 1))
        #expect(rate < 0.01)
        // Deterministic: the same events give the same answer.
        #expect(AnomalyDetector(threshold: 3, lookback: 30).detect(events).anomalies == result.anomalies)
    }
}
