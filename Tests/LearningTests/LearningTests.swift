import Learning
import Testing

@Suite struct LearningTests {
    /// The hand-written backward pass equals central finite differences of the forward pass.
    @Test func backwardMatchesFiniteDifferences() throws {
        var random = SeededRandom(seed: 3)
        let network = Network(sizes: [5, 7, 6, 3], random: &random)
        let batch = 4
        let input = (0..<(batch * 5)).map { _ in random.uniform(-2, 2) }
        let weights = (0..<(batch * 3)).map { _ in random.uniform(-1, 1) }
        func loss(_ net: Network) -> Double {
            let out = net.forward(input, batch: batch).output
            var sum = 0.0
            for k in out.indices { sum += weights[k] * out[k] }
            return sum
        }
        let gradient = network.backward(network.forward(input, batch: batch), outputGradient: weights)
        var worst = 0.0
        for k in network.parameters.indices {
            var plus = network, minus = network
            plus.parameters[k] += 1e-6
            minus.parameters[k] -= 1e-6
            let numeric = (loss(plus) - loss(minus)) / 2e-6
            worst = max(worst, abs(numeric - gradient[k]) / max(1, abs(numeric)))
        }
        #expect(worst < 1e-6, "largest relative gradient error \(worst)")
    }

    /// A state of the wrong size (a stored policy that does not fit) reads nothing outside it.
    @Test func aWrongSizedInputGivesNaNsAndNoGradient() {
        var random = SeededRandom(seed: 1)
        let network = Network(sizes: [4, 3, 2], random: &random)
        let activations = network.forward([1, 2, 3], batch: 1)
        #expect(activations.output.count == 2 && activations.output.allSatisfy(\.isNaN))
        #expect(network.backward(activations, outputGradient: [1, 1]).allSatisfy { $0 == 0 })
        #expect(DQNTrainer.greedy(Network(sizes: [4, 3, 4], random: &random), [1]).choice == .hold)
    }

    @Test func adamMovesAgainstTheGradientAndClippingBoundsTheNorm() {
        var adam = Adam(parameterCount: 2, learningRate: 0.1)
        var parameters = [1.0, -1.0]
        adam.step(&parameters, gradient: [2, -0.5])
        // First Adam step: each parameter moves by the learning rate against its gradient's sign.
        #expect(abs(parameters[0] - 0.9) < 1e-7 && abs(parameters[1] - (-0.9)) < 1e-7)
        var gradient = [3.0, 4.0]
        #expect(clipGradient(&gradient, maximum: 1) == 5)
        #expect(abs(gradient[0] - 0.6) < 1e-15 && abs(gradient[1] - 0.8) < 1e-15)
        #expect(huber(0.5) == (0.125, 0.5) && huber(-3) == (2.5, -1))
    }

    /// Two assets: a risky one that gains on average, a calm one that loses. Every action has an
    /// exact, checkable effect.
    static func market(periods: Int, seed: UInt64) -> MarketHistory {
        var random = SeededRandom(seed: seed)
        var returns: [[Double]] = [[0, 0]]
        for _ in 1..<periods {
            returns.append([0.004 + random.uniform(-0.03, 0.03), -0.001 + random.uniform(-0.002, 0.002)])
        }
        return MarketHistory(returns: returns)
    }

    @Test func environmentActionsCostsAndRewardAreAsDocumented() {
        let env = PortfolioEnvironment(market: Self.market(periods: 40, seed: 1), rules: EnvironmentRules(), targets: [0.5, 0.5])
        let t = env.firstPeriod
        #expect(env.features(weights: [0.5, 0.5], at: t).count == env.featureCount)
        #expect(env.apply(.hold, to: [0.7, 0.3], at: t) == [0.7, 0.3])
        #expect(env.apply(.rebalanceToTarget, to: [0.7, 0.3], at: t) == [0.5, 0.5])
        let riskier = env.apply(.increaseRisk, to: [0.5, 0.5], at: t), calmer = env.apply(.decreaseRisk, to: [0.5, 0.5], at: t)
        #expect(abs(riskier[0] - 0.55) < 1e-15 && abs(calmer[1] - 0.55) < 1e-15)
        let outcome = env.step(from: [0.7, 0.3], to: [0.5, 0.5], at: t)
        let r = env.market.returns[t + 1]
        #expect(abs(outcome.net - (0.5 * r[0] + 0.5 * r[1] - 0.001 * 0.4)) < 1e-15)
        #expect(abs(outcome.weights.reduce(0, +) - 1) < 1e-12)
        #expect(env.reward(0.01) == 100 * (0.01 - 1.5 * 0.0001))
    }

    /// Same seed and inputs: the same policy to the bit; another seed: another policy.
    @Test func trainingIsBitReproducibleBySeed() throws {
        let env = PortfolioEnvironment(market: Self.market(periods: 300, seed: 9), rules: EnvironmentRules(), targets: [0.5, 0.5])
        var settings = DQNSettings(episodes: 6, seed: 42)
        settings.hidden = [16, 16]
        let a = try DQNTrainer(environment: env, settings: settings).train()
        let b = try DQNTrainer(environment: env, settings: settings).train()
        #expect(a.network == b.network && a.episodeRewards == b.episodeRewards && a.evaluation == b.evaluation)
        settings.seed = 43
        let c = try DQNTrainer(environment: env, settings: settings).train()
        #expect(c.network != a.network)
    }

    /// Where leaning into the risky asset pays (it alternates +2.5 % and −0.5 % with 1 % noise; the
    /// calm one loses 0.2 % a period), the trained policy learns to do it and beats the equal-weight
    /// baseline out of sample; the evaluation lists the policy and three baselines.
    @Test func thePolicyLearnsAnObviousEdge() throws {
        var random = SeededRandom(seed: 5)
        var returns: [[Double]] = [[0, 0]]
        for t in 1..<600 {
            returns.append([(t % 2 == 0 ? 0.025 : -0.005) + random.uniform(-0.01, 0.01), -0.002 + random.uniform(-0.001, 0.001)])
        }
        let env = PortfolioEnvironment(market: MarketHistory(returns: returns), rules: EnvironmentRules(), targets: [0.5, 0.5])
        var settings = DQNSettings(episodes: 60, seed: 7)
        settings.hidden = [32, 32]
        var reported = 0
        let trained = try DQNTrainer(environment: env, settings: settings).train { progress in
            reported = progress.episode
            return true
        }
        #expect(reported == 60 && trained.episodeRewards.count == 60)
        #expect(trained.evaluation.map(\.name) == ["policy", "buy_and_hold", "equal_weight_rebalanced", "target_threshold_5pct"])
        let policy = trained.evaluation[0], equal = trained.evaluation[2]
        #expect(policy.totalReturn > equal.totalReturn, "policy \(policy.totalReturn) vs 1/N \(equal.totalReturn); actions \(policy.actions)")
        #expect(policy.actions[PolicyChoice.increaseRisk.rawValue] > policy.actions.reduce(0, +) / 2)
    }

    @Test func cancellingStopsTraining() {
        let env = PortfolioEnvironment(market: Self.market(periods: 100, seed: 2), rules: EnvironmentRules(), targets: [0.5, 0.5])
        #expect(throws: DQNTrainer.Stop.cancelled) {
            _ = try DQNTrainer(environment: env, settings: DQNSettings(episodes: 50, seed: 1)).train { $0.episode < 3 }
        }
        let short = PortfolioEnvironment(market: Self.market(periods: 12, seed: 2), rules: EnvironmentRules(), targets: [0.5, 0.5])
        #expect(throws: (any Error).self) { _ = try DQNTrainer(environment: short, settings: DQNSettings(episodes: 1, seed: 1)).train() }
    }
}
