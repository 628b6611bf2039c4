import Domain
import EventLog
import GRPCClient
import HoldingsProto
import RPCCore
import Store

/// The monitoring agent as a process of its own (`holdingsd --role agent`): it reads the read
/// models in Postgres and acts through the API (RebalancingService over gRPC, with the cause in
/// the call's metadata), so a client keeps exactly one writer, the API process that owns it.
public struct RemoteAgentBackend: AgentBackend {
    let pool: PostgresPool
    let producer: EventProducer
    let alertRecorder: EventRecorder
    let rebalancing: Ultracore_Holdings_V1_RebalancingService.Client
    let source: String

    /// How long the agent waits for the projector to store an event it has read from the log.
    static let projectionWait = Duration.seconds(30)

    public init(databaseURL: String, producer: EventProducer, alertsTopic: String, channel: GRPCChannel, source: String = "holdings-agent") throws {
        pool = PostgresPool(url: databaseURL, size: 2)
        self.producer = producer
        // The broker's acknowledgement is the commit point with a real cluster (this role needs one).
        alertRecorder = EventRecorder(producer: producer, gate: ProjectionGate(maxLag: Int.max / 2), topic: alertsTopic,
                                      partitions: try producer.partitionCount(of: alertsTopic), ackAfterProjection: nil)
        rebalancing = Ultracore_Holdings_V1_RebalancingService.Client(channel)
        self.source = source
    }

    func settle(client: String, seen: [Ultracore_Holdings_V1_Event]) async throws -> Bool {
        guard let last = seen.last else { return true }
        let clock = ContinuousClock()
        let deadline = clock.now + Self.projectionWait
        // The read models hold the batch once the projector stored its last event.
        while try await !pool.withConnection({ try ReadModels.hasEvent(last.eventId, on: $0) }) {
            guard clock.now < deadline else {
                throw RPCError(.unavailable, "the projector has not stored \(last.eventId) after \(Self.projectionWait)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let latest = try await pool.withConnection { try ReadModels.latestHoldingsEvent(client: client, on: $0) }
        return latest.map { id in seen.contains { $0.eventId == id } } ?? true
    }

    /// The read models hold every event up to the batch being evaluated (``settle(client:seen:)``).
    func runEnded(_ rebalancingId: String) async throws -> Bool {
        try await pool.withConnection { try ReadModels.runOutcome(rebalancingId, on: $0) } != nil
    }

    func schedule(of client: String) async throws -> Ultracore_Holdings_V1_RebalancingSchedule? {
        try await pool.withConnection { try ReadModels.loadSchedules(on: $0) }.first { $0.schedule.clientId == client }?.schedule
    }

    private func open(_ client: String) async throws -> [String: PositionState] {
        let loaded = try await pool.withConnection { try ReadModels.loadClient(client, on: $0) }
        var open: [String: PositionState] = [:]
        for position in loaded.positions where position.status == .open { open[position.ticker] = position }
        return open
    }

    func openSummaries(of client: String) async throws -> [PositionSummary] {
        try await open(client).values.sorted { $0.ticker < $1.ticker }.map(\.summary)
    }

    /// The THRESHOLD decision on the stored read models, valued and decided as EvaluateRebalancing does.
    func evaluate(_ input: EvaluationInput) async throws -> EvaluationOutcome {
        let open = try await self.open(input.client)
        let assets = try WriteModel.assets(held: open.keys, position: { open[$0] }, targets: input.targets)
        let (value, drifts) = try Rebalancing.drifts(assets, targets: input.targets, band: input.band, bands: input.bands)
        let decision = WriteModel.thresholdDecision(value: value, drifts: drifts)
        return EvaluationOutcome(assets: assets, value: value, drifts: drifts, effectiveTargets: input.targets,
                                 shouldRebalance: decision.should, reasons: decision.reasons)
    }

    private var options: CallOptions {
        var options = CallOptions(timeout: .seconds(30))
        if let cause = EventCause.current {
            options.metadata.add(EventCause.causationHeader, cause.eventId)
            options.metadata.add(EventCause.correlationHeader, cause.correlationId)
        }
        return options
    }

    func rebalance(schedule: Ultracore_Holdings_V1_RebalancingSchedule, input: EvaluationInput,
                   outcome: EvaluationOutcome) async throws -> (rebalancingId: String, trades: Int?) {
        let band = schedule.band ?? Ultracore_Holdings_V1_DriftBand()
        if schedule.autoExecute {
            var plan = Ultracore_Holdings_V1_PlanRebalancingRequest()
            plan.clientId = input.client
            plan.targetWeights = schedule.targetWeights
            plan.strategy = .threshold
            plan.band = band
            let planned = try await rebalancing.planRebalancing(plan, options: options)
            var execute = Ultracore_Holdings_V1_ExecuteRebalancingRequest()
            execute.clientId = input.client
            execute.planId = planned.planId
            let executed = try await rebalancing.executeRebalancing(execute, options: options)
            return (executed.rebalancingId, executed.trades.count)
        }
        var evaluate = Ultracore_Holdings_V1_EvaluateRebalancingRequest()
        evaluate.clientId = input.client
        evaluate.targetWeights = schedule.targetWeights
        evaluate.strategy = .threshold
        evaluate.band = band
        let evaluated = try await rebalancing.evaluateRebalancing(evaluate, options: options)
        return (evaluated.rebalancingId, nil)
    }

    func recordAlert(_ alert: Ultracore_Holdings_V1_AgentAlert, version: Int64) async throws {
        let eventId = UUIDText.random()
        let cause = EventCause.current
        let context = EventContext(eventId: eventId, occurredAt: .now, correlationId: cause?.correlationId ?? eventId,
                                   causationId: cause?.eventId ?? eventId, source: "\(source)/agent/monitor", requestId: "")
        let outcome = await alertRecorder.record([alert.event(context, version: version)], client: alert.clientId)
        if let error = outcome.results.first ?? nil { throw error }
    }
}
