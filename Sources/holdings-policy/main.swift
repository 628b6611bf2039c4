import Foundation
import Learning

/// holdings-policy: trains the DQN portfolio policy in process on synthetic markets and prints
/// the training time and the out-of-sample table (policy against the baselines, after costs).
///   holdings-policy bench [--assets 5] [--periods 1260] [--episodes 100] [--seeds 1,2,3]
///                         [--regimes trend,meanrevert,switch] [--hidden 64]
/// Bounded by its counts; no network, no files.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-policy: \(message)\n".utf8))
    exit(2)
}

let usage = "usage: holdings-policy bench [--assets 5] [--periods 1260] [--episodes 100] [--seeds 1,2,3] [--regimes trend,meanrevert,switch] [--hidden 64]"
var arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.first == "bench" else { fail(usage) }
let options: [String: String] = {
    var options: [String: String] = [:]
    var index = 1
    while index < arguments.count {
        guard arguments[index].hasPrefix("--"), index + 1 < arguments.count else { fail(usage) }
        options[String(arguments[index].dropFirst(2))] = arguments[index + 1]
        index += 2
    }
    return options
}()
@MainActor func number(_ name: String, _ fallback: Int) -> Int {
    guard let text = options[name] else { return fallback }
    guard let value = Int(text), value > 0 else { fail("--\(name) takes a positive number") }
    return value
}
let assets = number("assets", 5), periods = number("periods", 1260), episodes = number("episodes", 100), hidden = number("hidden", 64)
let seeds = (options["seeds"] ?? "1,2,3").split(separator: ",").map { UInt64($0) ?? 0 }
let regimes = (options["regimes"] ?? "trend,meanrevert,switch").split(separator: ",").map(String.init)

/// Normal deviates by Box–Muller (data generation only; training itself uses no libm).
struct Gaussian {
    var random: SeededRandom
    mutating func next() -> Double {
        let u = max(random.unit(), 1e-300), v = random.unit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// Prices of `assets` assets over `periods` periods in a regime.
@MainActor func market(_ regime: String, seed: UInt64) -> [[Double]] {
    var gauss = Gaussian(random: SeededRandom(seed: seed &* 7919 &+ 17))
    var prices = [[Double]](repeating: [100], count: assets)
    var bull = true
    var level = [Double](repeating: 0, count: assets)
    for _ in 1..<periods {
        if regime == "switch", gauss.random.unit() < 0.02 { bull.toggle() }
        let market = gauss.next()
        for i in 0..<assets {
            let beta = 0.5 + Double(i) / Double(max(1, assets - 1))  // 0.5 … 1.5
            let sigma = 0.008 + 0.004 * Double(i)
            var move: Double
            switch regime {
            case "trend":
                move = 0.0002 + 0.0002 * Double(i) + sigma * (0.6 * market + 0.8 * gauss.next())
            case "meanrevert":
                // Log price around 0: x ← x − 0.05 x + σ ε.
                let shock = sigma * (0.6 * market + 0.8 * gauss.next())
                let next = level[i] * 0.95 + shock
                move = next - level[i]
                level[i] = next
            default:
                let drift = bull ? 0.0008 : -0.0012
                let scale = bull ? 1.0 : 2.0
                move = beta * drift + scale * sigma * (0.6 * market + 0.8 * gauss.next())
            }
            prices[i].append(prices[i][prices[i].count - 1] * exp(move))
        }
    }
    return prices
}

func percent(_ value: Double) -> String { value.isNaN ? "n/a" : String(format: "%+.1f %%", 100 * value) }
func two(_ value: Double) -> String { value.isNaN ? "n/a" : String(format: "%.2f", value) }

print("DQN policy: \(assets) assets, \(periods) periods (70 % train, 30 % test), \(episodes) episodes × ≤ 252 steps, hidden \(hidden)×\(hidden), costs 10 bps of turnover")
var times: [Double] = []
var wins = 0, runs = 0
for regime in regimes {
    for seed in seeds {
        let prices = market(regime, seed: seed)
        let env = PortfolioEnvironment(market: MarketHistory(prices: prices), rules: EnvironmentRules(),
                                       targets: [Double](repeating: 1 / Double(assets), count: assets))
        var settings = DQNSettings(episodes: episodes, seed: seed)
        settings.hidden = [hidden, hidden]
        let clock = ContinuousClock()
        let begin = clock.now
        let trained: TrainedPolicy
        do { trained = try DQNTrainer(environment: env, settings: settings).train() } catch { fail("\(error)") }
        let elapsed = clock.now - begin
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        times.append(seconds)
        print("\n\(regime), seed \(seed): trained \(trained.steps) steps in \(String(format: "%.2f", seconds)) s; mean reward of the last 10 % of episodes \(two(trained.meanReward))")
        print("  strategy                  return    Sharpe  max drawdown  turnover")
        for result in trained.evaluation {
            print("  " + result.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + percent(result.totalReturn).leftPad(9) + two(result.sharpe).leftPad(9) + percent(result.maxDrawdown).leftPad(14)
                  + two(result.turnover).leftPad(10) + (result.actions.isEmpty ? "" : "  actions hold/target/risk+/risk- \(result.actions.map(String.init).joined(separator: "/"))"))
        }
        let policy = trained.evaluation[0], equal = trained.evaluation[2]
        runs += 1
        if (policy.sharpe.isNaN ? -Double.infinity : policy.sharpe) > (equal.sharpe.isNaN ? -Double.infinity : equal.sharpe) { wins += 1 }
    }
}
let sorted = times.sorted()
print("\ntraining time: median \(String(format: "%.2f", sorted[sorted.count / 2])) s over \(times.count) runs (min \(String(format: "%.2f", sorted.first ?? 0)), max \(String(format: "%.2f", sorted.last ?? 0)))")
print("policy Sharpe above 1/N rebalanced out of sample: \(wins) of \(runs) runs")

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
