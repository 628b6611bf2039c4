import Domain
import EventLog
import Foundation
import HoldingsProto
import RPCCore
import Store
import Synchronization

/// The autonomous monitoring agent (agent.proto describes its rules): a member of its own
/// consumer group following the log of record; after a client's events it re-evaluates the
/// client and raises or clears AGENT_ALERT events, starting a rebalancing on drift.
public final class MonitoringAgent: Sendable {
    let backend: any AgentBackend
    let configuration: KafkaConfiguration
    let bootstrap: String
    private let stopping = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    /// Open alerts by client and kind (rebuilt from agent_alerts at start).
    private let open = Mutex<[String: [Ultracore_Holdings_V1_AlertKind: Ultracore_Holdings_V1_AgentAlert]]>([:])
    /// Batches of events evaluated (for tests and logs).
    private let evaluations = Atomic<Int>(0)
    /// Where a partition without stored offsets starts: its end when the agent started.
    private let startMarks = Mutex<[PartitionKey: Int64]>([:])
    /// The end of each partition of the alerts topic when the agent started: the open alerts
    /// are read once the projector has stored every alert before it.
    private let alertMarks = Mutex<[PartitionKey: Int64]>([:])
    /// The projector's consumer group, whose stored offsets say how far the read models are.
    let projectorGroup: String

    /// Events after which a client is evaluated.
    static let triggers: Set<Ultracore_Holdings_V1_EventType> = [
        .positionValued, .positionOpened, .lotAdded, .lotsSold, .positionClosed, .tradeExecuted, .corporateActionApplied,
        .rebalancingCompleted,
    ]
    static let concentrationLimit = 0.40
    static let riskLimit = 0.20
    static let riskMinimumReturns = 20

    /// The agent inside holdingsd, acting through its write model.
    public convenience init(model: WriteModel, configuration: KafkaConfiguration, bootstrap: String) {
        self.init(backend: LocalAgentBackend(model: model), configuration: configuration, bootstrap: bootstrap)
    }

    /// The agent as a process of its own, acting through the API.
    public convenience init(remote: RemoteAgentBackend, configuration: KafkaConfiguration, bootstrap: String) {
        self.init(backend: remote, configuration: configuration, bootstrap: bootstrap)
    }

    init(backend: any AgentBackend, configuration: KafkaConfiguration, bootstrap: String) {
        self.backend = backend
        projectorGroup = configuration.projectorGroup
        var configuration = configuration
        configuration.projectorGroup = configuration.agentGroup
        configuration.clientId += "-agent"
        self.configuration = configuration
        self.bootstrap = bootstrap
    }

    public var isRunning: Bool { running.load(ordering: .relaxed) }

    /// Starts following the log. A partition the group never saw starts at its end as of this
    /// call (read here, before holdingsd serves), so no event written after the start is missed.
    public func start() {
        let producer = backend.producer
        startMarks.withLock { $0 = Self.ends(of: configuration.topics.positions, producer: producer) }
        alertMarks.withLock { $0 = Self.ends(of: configuration.topics.agentAlerts, producer: producer) }
        let thread = Thread { [self] in run() }
        thread.name = "monitoring-agent"
        thread.start()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func run() {
        let pool = backend.pool
        let producer = backend.producer
        let key = Mutex<String>("")
        let consumer: EventConsumer
        do {
            consumer = try EventConsumer(configuration: configuration, bootstrap: bootstrap, topics: [configuration.topics.positions]) {
                [self] partitions in
                // Where this group stopped (Postgres); a partition never seen starts at its end.
                while !stopping.load(ordering: .relaxed) {
                    do {
                        let group = key.withLock { $0 }
                        let stored = try Blocking.wait { try await pool.withConnection { try ReadModels.loadOffsets(group: group, on: $0) } }
                        let marks = startMarks.withLock { $0 }
                        return try partitions.map { assigned in
                            let partition = PartitionKey(topic: assigned.topic, partition: assigned.partition)
                            let offset = try stored[partition] ?? marks[partition]
                                ?? producer.watermarks(topic: assigned.topic, partition: assigned.partition).high
                            return (assigned.topic, assigned.partition, offset)
                        }
                    } catch {
                        Log.error("agent", "cannot read the agent's offsets (\(error)); retrying")
                        Thread.sleep(forTimeInterval: 0.2)
                    }
                }
                return []
            }
        } catch {
            Log.error("agent", "cannot join the consumer group \(configuration.agentGroup): \(error)")
            return
        }
        // The stored offsets are keyed by the cluster's id: without it the agent would not find
        // where it stopped (and would start at the end, missing events), so it waits for it.
        var clusterId: String?
        while clusterId == nil && !stopping.load(ordering: .relaxed) {
            do {
                clusterId = try consumer.clusterId()
            } catch {
                Log.error("agent", "cannot identify the cluster (\(error)); retrying")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        guard let clusterId else { return }
        key.withLock { $0 = OffsetsKey.of(group: configuration.agentGroup, clusterId: clusterId) }
        loadOpenAlerts(projectorKey: OffsetsKey.of(group: projectorGroup, clusterId: clusterId))
        running.store(true, ordering: .relaxed)
        Log.info("agent", "monitoring agent in consumer group \(configuration.agentGroup)")
        var deferred: [String: [Ultracore_Holdings_V1_Event]] = [:]
        while !stopping.load(ordering: .relaxed) {
            let records: [ConsumedRecord]
            do {
                records = try consumer.poll(maxRecords: 500, timeoutMilliseconds: 100) { Log.error("agent", "\($0)") }
            } catch {
                Log.error("agent", "the log no longer holds events the agent has not seen (\(error)); stopping")
                break
            }
            guard !records.isEmpty else { continue }
            var reached: [PartitionKey: Int64] = [:]
            var clients: [String: [Ultracore_Holdings_V1_Event]] = [:]
            var order: [String] = []
            for record in records {
                reached[PartitionKey(topic: record.topic, partition: record.partition)] = record.offset + 1
                guard let event = try? Ultracore_Holdings_V1_Event(serializedBytes: record.value), !event.clientId.isEmpty else { continue }
                if clients[event.clientId] == nil { order.append(event.clientId) }
                clients[event.clientId, default: []].append(event)
            }
            let group = key.withLock { $0 }
            // Events of a client deferred by an earlier batch (the client had moved on) come first.
            let batch = order.map { ($0, (deferred.removeValue(forKey: $0) ?? []) + (clients[$0] ?? [])) }
            let offsets = reached
            do {
                let waiting = try Blocking.wait { [self] in
                    var waiting: [String: [Ultracore_Holdings_V1_Event]] = [:]
                    for (client, events) in batch where !(await evaluate(client: client, events: events)) { waiting[client] = events }
                    try await pool.withConnection { try ReadModels.saveOffsets(group: group, offsets, on: $0) }
                    return waiting
                }
                deferred.merge(waiting) { $1 }
            } catch {
                Log.error("agent", "offsets not saved (\(error)); the batch will be evaluated again after a restart")
            }
            evaluations.add(1, ordering: .relaxed)
        }
        consumer.close()
        running.store(false, ordering: .relaxed)
        Log.info("agent", "stopped")
    }

    /// The end offset of every partition of `topic` (those the broker answered for).
    static func ends(of topic: String, producer: EventProducer) -> [PartitionKey: Int64] {
        var ends: [PartitionKey: Int64] = [:]
        guard let partitions = try? producer.partitionCount(of: topic) else { return ends }
        for partition in 0..<partitions {
            if let high = try? producer.watermarks(topic: topic, partition: partition).high {
                ends[PartitionKey(topic: topic, partition: partition)] = high
            }
        }
        return ends
    }

    /// Reads the open alerts back (one open alert per client and kind survives restarts), once
    /// the projector has stored every alert recorded before this start: an alert cleared just
    /// before a kill -9 must not come back as open, or the agent would hold back on its finding
    /// and clear it a second time.
    private func loadOpenAlerts(projectorKey: String) {
        let pool = backend.pool
        let marks = alertMarks.withLock { $0 }
        var waitingSince: ContinuousClock.Instant?
        while !stopping.load(ordering: .relaxed) {
            do {
                let alerts = try Blocking.wait {
                    try await pool.withConnection { connection -> [Ultracore_Holdings_V1_AgentAlert]? in
                        let stored = try ReadModels.loadOffsets(group: projectorKey, on: connection)
                        let behind = marks.filter { (stored[$0.key] ?? 0) < $0.value }
                        guard behind.isEmpty else { return nil }
                        return try ReadModels.openAlerts(on: connection)
                    }
                }
                if let alerts {
                    open.withLock { state in
                        for alert in alerts { state[alert.clientId, default: [:]][alert.kind] = alert }
                    }
                    return
                }
                let now = ContinuousClock.now
                if waitingSince.map({ now - $0 >= .seconds(10) }) ?? true {  // a line every 10 s while it waits
                    Log.info("agent", "waiting for the projector (\(projectorGroup)) to store the alerts recorded before this start")
                    waitingSince = now
                }
                Thread.sleep(forTimeInterval: 0.1)
            } catch {
                Log.error("agent", "cannot read the open alerts (\(error)); retrying")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// One client after `seen` (its events of a batch, log order): every rule, on the state
    /// after them. False when the client already moved past them (its latest event is in a
    /// later batch): the caller keeps them for that batch.
    func evaluate(client: String, events seen: [Ultracore_Holdings_V1_Event]) async -> Bool {
        let events = seen.filter { Self.triggers.contains($0.eventType) && !RebalancingEvents.isVoid($0) }
        guard let deciding = events.last else { return true }
        let causes = [deciding.eventId] + events.dropLast().reversed().map(\.eventId)
        let cause = EventCause(eventId: deciding.eventId, correlationId: deciding.correlationId.isEmpty ? deciding.eventId : deciding.correlationId)
        do {
            // The client moved on past these events: a later batch carries its latest and decides then,
            // so every decision names the event it was made on.
            guard try await backend.settle(client: client, seen: seen) else { return false }
            try await EventCause.$current.withValue(cause) {
                try await drift(client: client, seen: seen, causes: causes)
                try await concentration(client: client, causes: causes)
                if deciding.eventType == .positionValued { try await risk(client: client, causes: causes) }
                try await anomaly(client: client, events: events, causes: causes)
            }
        } catch {
            Log.error("agent", "evaluating \(client) after \(deciding.eventId): \(error)")
        }
        return true
    }

    // MARK: Rules

    func drift(client: String, seen: [Ultracore_Holdings_V1_Event], causes: [String]) async throws {
        guard let schedule = try await backend.schedule(of: client), schedule.enabled, !schedule.targetWeights.isEmpty,
              let band = schedule.band, !(band.absolute.isEmpty && band.relative.isEmpty) else {
            try await clear(client: client, kind: .drift, causes: causes, because: "the client has no schedule with a band")
            return
        }
        let input = try EvaluationInput(client: client, targets: schedule.targetWeights, strategy: .threshold, band: band, bands: [:],
                                        signal: nil, asOf: .now)
        let outcome = try await backend.evaluate(input)
        let outside = outcome.drifts.filter(\.outside)
        guard outcome.shouldRebalance, let worst = outside.max(by: { $0.drift.magnitude < $1.drift.magnitude }) else {
            try await clear(client: client, kind: .drift, causes: causes, because: "every asset is within its band")
            return
        }
        if let current = openAlert(client, .drift) {
            // The open alert holds back a second run while its own run is the answer to the drift.
            guard try await movedPast(run: current.rebalancingId, seen: seen) else { return }
            try await clear(client: client, kind: .drift, causes: causes,
                            because: "rebalancing \(current.rebalancingId) ended and later events moved the client outside the band again")
        }
        var figures = ["ticker": worst.ticker, "drift": worst.drift.description, "weight": worst.current.description,
                       "target": worst.target.description, "band": band.absolute.isEmpty ? "relative \(band.relative)" : band.absolute,
                       "schedule_id": schedule.scheduleId, "auto_execute": schedule.autoExecute ? "true" : "false"]
        var rebalancingId = ""
        do {
            let started = try await backend.rebalance(schedule: schedule, input: input, outcome: outcome)
            rebalancingId = started.rebalancingId
            if let trades = started.trades { figures["trades"] = String(trades) }
        } catch {
            figures["rebalancing_error"] = "\(error)"
        }
        let words = outside.map { "\($0.ticker) at \($0.current) against \($0.target)" }.joined(separator: ", ")
        let action = rebalancingId.isEmpty ? "no rebalancing could start (\(figures["rebalancing_error"] ?? ""))"
            : schedule.autoExecute ? "rebalancing \(rebalancingId) executed" : "rebalancing \(rebalancingId) recommended"
        try await raise(client: client, kind: .drift, severity: .warning, message: "drift outside the band of schedule \(schedule.scheduleId): \(words); \(action)",
                        figures: figures, causes: causes, rebalancingId: rebalancingId)
    }

    /// Whether `seen` (a client's events of a batch, log order) holds an event after the end
    /// (REBALANCING_COMPLETED or REBALANCING_ABORTED) of `run` that is not one of the run's own:
    /// a drift found then is a new finding, not the one the run answered. The run's own events
    /// never count, so a run that leaves the client outside its band does not start another.
    /// A run that never ends (a recommendation, or none could start) holds the alert open until
    /// the drift is back within the band.
    func movedPast(run: String, seen: [Ultracore_Holdings_V1_Event]) async throws -> Bool {
        guard !run.isEmpty else { return false }
        let own = { (event: Ultracore_Holdings_V1_Event) in RebalancingEvents.runId(of: event) == run }
        let moving = { (event: Ultracore_Holdings_V1_Event) in
            Self.triggers.contains(event.eventType) && !RebalancingEvents.isVoid(event) && !own(event)
        }
        if let end = seen.lastIndex(where: { own($0) && ($0.eventType == .rebalancingCompleted || $0.eventType == .rebalancingAborted) }) {
            return seen[(end + 1)...].contains(where: moving)
        }
        // The batch follows the client's earlier batches in log order: when the run ended, it
        // ended before every event of this batch.
        guard seen.contains(where: moving) else { return false }
        return try await backend.runEnded(run)
    }

    func concentration(client: String, causes: [String]) async throws {
        let (_, weights, largest) = try AgentService.weights(try await backend.openSummaries(of: client), client: client)
        guard weights.count >= 2, let largest, largest.weight > Self.concentrationLimit else {
            try await clear(client: client, kind: .concentration, causes: causes, because: "no position above \(Self.concentrationLimit)")
            return
        }
        try await raise(client: client, kind: .concentration, severity: largest.weight > 0.60 ? .critical : .warning,
                        message: "\(largest.ticker) is \(format(100 * largest.weight, places: 2)) % of the portfolio (limit 40 %)",
                        figures: ["ticker": largest.ticker, "largest_weight": largest.exact.description, "limit": "0.4"], causes: causes)
    }

    func risk(client: String, causes: [String]) async throws {
        let values = try await backend.valuationSeries(of: client)
        guard values.count > Self.riskMinimumReturns, values.allSatisfy({ $0 > 0 }) else { return }
        let returns = ReturnStatistics.returns(values: values)
        let volatility = ReturnStatistics.isConstant(returns) ? 0 : ReturnStatistics.annualVolatility(returns, periodsPerYear: 252)
        guard volatility > Self.riskLimit else {
            try await clear(client: client, kind: .risk, causes: causes, because: "annualized volatility \(format(100 * volatility, places: 2)) %")
            return
        }
        try await raise(client: client, kind: .risk, severity: volatility > 0.35 ? .critical : .warning,
                        message: "annualized volatility of the portfolio is \(format(100 * volatility, places: 2)) % over \(returns.count) valuation returns (limit 20 %)",
                        figures: ["volatility": format(volatility, places: 6), "limit": "0.2", "returns": String(returns.count)], causes: causes)
    }

    func anomaly(client: String, events: [Ultracore_Holdings_V1_Event], causes: [String]) async throws {
        let recent = try await backend.marketEvents(of: client)
        let ids = Set(events.map(\.eventId))
        let found = AnomalyDetector(threshold: 3, lookback: 30).detect(recent).anomalies.filter { ids.contains($0.eventId) }
        guard let first = found.first else {
            try await clear(client: client, kind: .anomaly, causes: causes, because: "the latest events are usual")
            return
        }
        try await raise(client: client, kind: .anomaly, severity: abs(first.zScore) > 6 ? .critical : .warning, message: first.reason,
                        figures: ["event_id": first.eventId, "kind": first.kind.protoName ?? "", "observed": first.observed,
                                  "expected": first.expected, "z_score": format(first.zScore, places: 4)], causes: causes)
    }

    // MARK: Alerts

    static func rank(_ severity: Ultracore_Holdings_V1_AlertSeverity) -> Int {
        switch severity {
        case .critical: 3
        case .warning: 2
        case .info: 1
        default: 0
        }
    }

    func openAlert(_ client: String, _ kind: Ultracore_Holdings_V1_AlertKind) -> Ultracore_Holdings_V1_AgentAlert? {
        open.withLock { $0[client]?[kind] }
    }

    private func raise(client: String, kind: Ultracore_Holdings_V1_AlertKind, severity: Ultracore_Holdings_V1_AlertSeverity,
                       message: String, figures: [String: String], causes: [String], rebalancingId: String = "") async throws {
        // One open alert per client and kind: a finding as urgent as the open one adds nothing; a
        // more urgent one clears it and is raised in its place.
        if let current = openAlert(client, kind) {
            guard Self.rank(severity) > Self.rank(current.severity) else { return }
            try await clear(client: client, kind: kind, causes: causes, because: "escalated to \(severity.protoName ?? "")")
        }
        var alert = Ultracore_Holdings_V1_AgentAlert()
        alert.alertId = "alert-" + UUIDText.random()
        alert.clientId = client
        alert.kind = kind
        alert.severity = severity
        alert.state = .raised
        alert.message = message
        alert.figures = figures
        alert.causeEventIds = causes
        alert.rebalancingId = rebalancingId
        try await backend.recordAlert(alert, version: 1)
        open.withLock { $0[client, default: [:]][kind] = alert }
    }

    private func clear(client: String, kind: Ultracore_Holdings_V1_AlertKind, causes: [String], because reason: String) async throws {
        guard var alert = openAlert(client, kind) else { return }
        alert.state = .cleared
        alert.message = "cleared: \(reason)"
        alert.causeEventIds = causes
        try await backend.recordAlert(alert, version: 2)
        open.withLock { $0[client]?[kind] = nil }
    }
}

/// What the agent reads and does, in holdingsd (``LocalAgentBackend``) or as a process of its
/// own acting through the API (``RemoteAgentBackend``). Calls made while ``EventCause/current``
/// is set record events caused by that event.
protocol AgentBackend: Sendable {
    var pool: PostgresPool { get }
    var producer: EventProducer { get }
    /// Waits until the client's state holds `seen`; false when the client already moved past them.
    func settle(client: String, seen: [Ultracore_Holdings_V1_Event]) async throws -> Bool
    func schedule(of client: String) async throws -> Ultracore_Holdings_V1_RebalancingSchedule?
    func openSummaries(of client: String) async throws -> [PositionSummary]
    /// EvaluateRebalancing's decision, recording nothing.
    func evaluate(_ input: EvaluationInput) async throws -> EvaluationOutcome
    /// Starts a rebalancing for a schedule: the plan executed when it auto-executes, else a recommendation.
    func rebalance(schedule: Ultracore_Holdings_V1_RebalancingSchedule, input: EvaluationInput,
                   outcome: EvaluationOutcome) async throws -> (rebalancingId: String, trades: Int?)
    func recordAlert(_ alert: Ultracore_Holdings_V1_AgentAlert, version: Int64) async throws
    /// Whether a rebalancing run ended (completed or aborted) in the log the agent has seen.
    func runEnded(_ rebalancingId: String) async throws -> Bool
    /// The client's portfolio values over time (the valuation history).
    func valuationSeries(of client: String) async throws -> [Double]
    /// The client's last market events, in log order (what DetectAnomalies reads).
    func marketEvents(of client: String) async throws -> [Ultracore_Holdings_V1_Event]
}

extension AgentBackend {
    func valuationSeries(of client: String) async throws -> [Double] {
        try await pool.withConnection { try ReadModels.valuationSeries(client: client, from: nil, to: .now, on: $0) }.map(\.value)
    }

    func marketEvents(of client: String) async throws -> [Ultracore_Holdings_V1_Event] {
        try await pool.withConnection { try ReadModels.recentMarketEvents(client: client, limit: AgentService.anomalyEventLimit, on: $0) }
    }
}

/// The agent in holdingsd: reads and writes through the write model.
struct LocalAgentBackend: AgentBackend {
    let model: WriteModel

    var pool: PostgresPool { model.pool }
    var producer: EventProducer { model.recorder.producer }

    func settle(client: String, seen: [Ultracore_Holdings_V1_Event]) async throws -> Bool {
        // A barrier: the writer that recorded these events has applied them once its turn ends.
        try await model.executor.write(client) { _ in }
        let latest = model.executor.read(client) { $0.lastEventId }
        return latest.isEmpty || seen.contains { $0.eventId == latest }
    }

    func schedule(of client: String) async throws -> Ultracore_Holdings_V1_RebalancingSchedule? {
        model.executor.read(client) { $0.schedule?.schedule }
    }

    func openSummaries(of client: String) async throws -> [PositionSummary] { model.openSummaries(of: client) }

    func evaluate(_ input: EvaluationInput) async throws -> EvaluationOutcome { try await model.evaluate(input) }

    func rebalance(schedule: Ultracore_Holdings_V1_RebalancingSchedule, input: EvaluationInput,
                   outcome: EvaluationOutcome) async throws -> (rebalancingId: String, trades: Int?) {
        let now = Instant.now
        if schedule.autoExecute {
            let stored = try await model.plan(input, constraints: TradingConstraints(), prices: [:], planId: "plan-" + UUIDText.random(), now: now)
            let executed = try await model.execute(stored, requestId: "", fingerprint: "", source: "agent/monitor", now: now)
            return (executed.rebalancingId, executed.trades.count)
        }
        let trigger = try await model.trigger(outcome, input: input, planId: "", requestId: "", fingerprint: "", source: "agent/monitor", now: now)
        return (trigger.aggregateId, nil)
    }

    func recordAlert(_ alert: Ultracore_Holdings_V1_AgentAlert, version: Int64) async throws {
        try await model.recordAlert(alert, version: version)
    }

    func runEnded(_ rebalancingId: String) async throws -> Bool {
        try await model.waitForAuditTrail()
        return try await pool.withConnection { try ReadModels.runOutcome(rebalancingId, on: $0) } != nil
    }
}

extension WriteModel {
    /// Records an AGENT_ALERT on the alerts topic (caused by the event being evaluated) and
    /// tells WatchEvents subscribers.
    func recordAlert(_ alert: Ultracore_Holdings_V1_AgentAlert, version: Int64) async throws {
        try await recordOnAlertTopic(alert.event(context("agent/monitor", requestId: "", now: .now), version: version))
    }

    func recordOnAlertTopic(_ event: Ultracore_Holdings_V1_Event) async throws {
        let outcome = await alertRecorder.record([event], client: event.clientId)
        if let error = outcome.results.first ?? nil { throw error }
        broadcaster.publish([event])
    }
}

extension Ultracore_Holdings_V1_AgentAlert {
    /// The AGENT_ALERT event of this alert at `version` (1 raises it, 2 clears it).
    func event(_ context: EventContext, version: Int64) -> Ultracore_Holdings_V1_Event {
        var event = context.envelope(aggregateId: alertId, version: version, clientId: clientId)
        event.eventType = .agentAlert
        event.payload = .agentAlert(self)
        return event
    }
}
