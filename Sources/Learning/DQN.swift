/// Hyper-parameters of a DQN training run (agent.proto's TrainPolicyRequest and POLICY_TRAINED).
public struct DQNSettings: Sendable, Hashable {
    public var episodes: Int
    public var seed: UInt64
    public var learningRate = 0.001
    public var discount = 0.99
    public var hidden = [64, 64]
    public var batchSize = 32
    public var replayCapacity = 50_000
    /// Gradient steps every this many environment steps.
    public var trainEvery = 4
    /// The target network copies the online one every this many environment steps.
    public var targetSync = 500
    public var gradientClip = 10.0
    /// ε falls linearly from `epsilonStart` to `epsilonEnd` over this fraction of all steps.
    public var epsilonStart = 1.0
    public var epsilonEnd = 0.05
    public var explorationFraction = 0.5
    /// Fraction of the history trained on; the rest is the out-of-sample test.
    public var trainFraction = 0.7

    public init(episodes: Int, seed: UInt64) {
        self.episodes = episodes
        self.seed = seed
    }
}

/// Training progress after an episode.
public struct TrainingProgress: Sendable {
    public var episode: Int
    public var episodes: Int
    public var reward: Double
    public var epsilon: Double
    public var loss: Double
}

/// The outcome of training: the network, the learning curve, the out-of-sample evaluation.
public struct TrainedPolicy: Sendable {
    public var network: Network
    public var episodeRewards: [Double]
    public var meanReward: Double
    public var finalLoss: Double
    public var finalEpsilon: Double
    public var steps: Int
    /// Out of sample: the policy, then the baselines.
    public var evaluation: [StrategyResult]
    /// The first period of the test segment.
    public var testStart: Int
}

/// Deep Q-learning (Mnih et al. 2015): experience replay, a target network, ε-greedy
/// exploration, Huber loss, Adam and gradient clipping, over ``PortfolioEnvironment``.
public struct DQNTrainer: Sendable {
    public let environment: PortfolioEnvironment
    public let settings: DQNSettings

    public enum Stop: Error, Equatable {
        /// The caller asked to stop (a cancelled call or a passed deadline).
        case cancelled
        /// The history is too short for a training and a test segment.
        case tooShort(String)
    }

    public init(environment: PortfolioEnvironment, settings: DQNSettings) {
        self.environment = environment
        self.settings = settings
    }

    /// Where the test segment starts: the training segment is periods [window, split].
    public var split: Int {
        let periods = environment.market.periods
        return environment.firstPeriod + Int(Double(periods - environment.firstPeriod) * settings.trainFraction)
    }

    /// The network's layer widths.
    public var sizes: [Int] { [environment.featureCount] + settings.hidden + [PolicyChoice.allCases.count] }

    /// Greedy action of `network` for `features`, with every Q-value.
    public static func greedy(_ network: Network, _ features: [Double]) -> (choice: PolicyChoice, values: [Double]) {
        let q = network.forward(features, batch: 1).output
        var best = 0
        for a in 1..<q.count where q[a] > q[best] { best = a }
        return (PolicyChoice(rawValue: best) ?? .hold, q)
    }

    /// Trains from `start` (a warm start) or a fresh network, calling `progress` after each
    /// episode; `progress` returns false to stop (TrainPolicy's cancellation).
    public func train(start: Network? = nil, progress: (TrainingProgress) -> Bool = { _ in true }) throws(Stop) -> TrainedPolicy {
        let env = environment
        let first = env.firstPeriod, split = self.split
        // Training periods: states at first...split−1, each earning the next period (≤ split).
        let trainSteps = split - first
        guard trainSteps >= 2, split + 2 <= env.market.periods else {
            throw .tooShort("\(env.market.periods) periods leave \(max(0, trainSteps)) to train on and \(max(0, env.market.periods - split - 1)) to test on after a window of \(env.rules.window); at least 2 of each are needed")
        }
        let length = min(env.rules.episodeLength, trainSteps)
        var random = SeededRandom(seed: settings.seed)
        var online = start ?? Network(sizes: sizes, random: &random)
        var target = online
        var adam = Adam(parameterCount: online.parameters.count, learningRate: settings.learningRate)
        var replay = ReplayBuffer(capacity: settings.replayCapacity, features: env.featureCount)
        let totalSteps = settings.episodes * length
        let learningStarts = min(1_000, max(settings.batchSize, totalSteps / 10))
        let decaySteps = max(1.0, Double(totalSteps) * settings.explorationFraction)
        var step = 0
        var rewards: [Double] = []
        var epsilon = settings.epsilonStart
        var lastLoss = 0.0
        let actionCount = PolicyChoice.allCases.count

        for episode in 0..<settings.episodes {
            let begin = first + random.index(trainSteps - length + 1)
            var weights = env.targets
            var state = env.features(weights: weights, at: begin)
            var total = 0.0, lossSum = 0.0, updates = 0
            for t in begin..<(begin + length) {
                epsilon = max(settings.epsilonEnd, settings.epsilonStart - (settings.epsilonStart - settings.epsilonEnd) * Double(step) / decaySteps)
                let choice: PolicyChoice
                if random.unit() < epsilon {
                    choice = PolicyChoice(rawValue: random.index(actionCount)) ?? .hold
                } else {
                    choice = Self.greedy(online, state).choice
                }
                let outcome = env.step(from: weights, to: env.apply(choice, to: weights, at: t), at: t)
                let reward = env.reward(outcome.net)
                weights = outcome.weights
                let done = t + 1 == begin + length
                let next = env.features(weights: weights, at: t + 1)
                replay.append(state: state, action: choice.rawValue, reward: reward, next: next, done: done)
                state = next
                total += reward
                step += 1
                if step >= learningStarts, step % settings.trainEvery == 0, replay.count >= settings.batchSize {
                    lossSum += learn(online: &online, target: target, adam: &adam, replay: replay, random: &random)
                    updates += 1
                }
                if step % settings.targetSync == 0 { target = online }
            }
            rewards.append(total)
            if updates > 0 { lastLoss = lossSum / Double(updates) }
            if !progress(TrainingProgress(episode: episode + 1, episodes: settings.episodes, reward: total, epsilon: epsilon, loss: lastLoss)) {
                throw .cancelled
            }
        }
        let tail = max(1, rewards.count / 10)
        var meanReward = 0.0
        for r in rewards.suffix(tail) { meanReward += r }
        meanReward /= Double(tail)
        return TrainedPolicy(network: online, episodeRewards: rewards, meanReward: meanReward, finalLoss: lastLoss,
                             finalEpsilon: epsilon, steps: step, evaluation: evaluate(online), testStart: split)
    }

    /// One gradient step on a sampled batch; returns the batch's mean Huber loss.
    func learn(online: inout Network, target: Network, adam: inout Adam, replay: ReplayBuffer, random: inout SeededRandom) -> Double {
        let batch = settings.batchSize, d = environment.featureCount
        var states = [Double](repeating: 0, count: batch * d), nexts = [Double](repeating: 0, count: batch * d)
        var actions = [Int](repeating: 0, count: batch), rewards = [Double](repeating: 0, count: batch)
        var dones = [Bool](repeating: false, count: batch)
        for b in 0..<batch {
            let k = random.index(replay.count)
            replay.copy(k, state: &states, next: &nexts, at: b * d)
            (actions[b], rewards[b], dones[b]) = (replay.actions[k], replay.rewards[k], replay.dones[k])
        }
        let nextQ = target.forward(nexts, batch: batch).output
        let activations = online.forward(states, batch: batch)
        let q = activations.output
        let outputs = online.outputs
        var gradient = [Double](repeating: 0, count: batch * outputs)
        var loss = 0.0
        for b in 0..<batch {
            var best = nextQ[b * outputs]
            for a in 1..<outputs where nextQ[b * outputs + a] > best { best = nextQ[b * outputs + a] }
            let y = rewards[b] + (dones[b] ? 0 : settings.discount * best)
            let (l, derivative) = huber(q[b * outputs + actions[b]] - y)
            loss += l
            gradient[b * outputs + actions[b]] = derivative / Double(batch)
        }
        var parameterGradient = online.backward(activations, outputGradient: gradient)
        clipGradient(&parameterGradient, maximum: settings.gradientClip)
        adam.step(&online.parameters, gradient: parameterGradient)
        return loss / Double(batch)
    }

    /// The greedy policy and the baselines over the test segment, after costs.
    public func evaluate(_ network: Network) -> [StrategyResult] {
        let env = environment
        var counts = [Int](repeating: 0, count: PolicyChoice.allCases.count)
        var policy = env.run(name: "policy", from: split) { weights, t in
            let choice = Self.greedy(network, env.features(weights: weights, at: t)).choice
            counts[choice.rawValue] += 1
            return env.apply(choice, to: weights, at: t)
        }
        policy.actions = counts
        return [policy] + env.baselines(from: split)
    }
}

/// Transitions kept for replay, in flat arrays; the oldest is overwritten when full.
struct ReplayBuffer {
    let capacity: Int
    let features: Int
    var states: [Double] = []
    var nexts: [Double] = []
    var actions: [Int] = []
    var rewards: [Double] = []
    var dones: [Bool] = []
    var cursor = 0

    init(capacity: Int, features: Int) {
        self.capacity = capacity
        self.features = features
    }

    var count: Int { actions.count }

    mutating func append(state: [Double], action: Int, reward: Double, next: [Double], done: Bool) {
        if actions.count < capacity {
            states += state
            nexts += next
            actions.append(action)
            rewards.append(reward)
            dones.append(done)
        } else {
            let base = cursor * features
            for k in 0..<features {
                states[base + k] = state[k]
                nexts[base + k] = next[k]
            }
            (actions[cursor], rewards[cursor], dones[cursor]) = (action, reward, done)
        }
        cursor = (cursor + 1) % capacity
    }

    func copy(_ k: Int, state: inout [Double], next: inout [Double], at offset: Int) {
        let base = k * features
        for j in 0..<features {
            state[offset + j] = states[base + j]
            next[offset + j] = nexts[base + j]
        }
    }
}
