import Domain
import Foundation
import HoldingsProto
import RPCCore
import Security
import Synchronization
import Store

/// RebalancingService: evaluation, tax-aware plans, all-or-nothing execution, schedules.
public struct RebalancingService: Ultracore_Holdings_V1_RebalancingService.ServiceProtocol {
    let model: WriteModel

    public init(model: WriteModel) { self.model = model }

    public func evaluateRebalancing(request: Ultracore_Holdings_V1_EvaluateRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_EvaluateRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await EventCause.$current.withValue(try EventCause.of(context)) { try await evaluate(request) }
        }
    }

    public func planRebalancing(request: Ultracore_Holdings_V1_PlanRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_PlanRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.read, client: try Validation.identifier(request.clientId, field: "client_id"))
            return try await plan(request)
        }
    }

    public func executeRebalancing(request: Ultracore_Holdings_V1_ExecuteRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ExecuteRebalancingResponse {
        try await ServiceError.mapping {
            // A plan is found only under the client it was made for: another client's plan id is NOT_FOUND.
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await EventCause.$current.withValue(try EventCause.of(context)) { try await execute(request) }
        }
    }

    public func scheduleRebalancing(request: Ultracore_Holdings_V1_ScheduleRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ScheduleRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await schedule(request)
        }
    }
}

/// Requests parsed and answers built here; the write model decides and records.
extension RebalancingService {
    /// RebalancingService.EvaluateRebalancing: emits REBALANCING_TRIGGERED when it must rebalance.
    func evaluate(_ request: Ultracore_Holdings_V1_EvaluateRebalancingRequest) async throws -> Ultracore_Holdings_V1_EvaluateRebalancingResponse {
        let now = Instant.now
        let asOf = try request.asOf.map { time throws(DomainError) in try Validation.instant(time, field: "as_of") } ?? now
        var input = try EvaluationInput(client: request.clientId, targets: request.targetWeights, strategy: request.strategy,
                                        band: request.band, bands: request.assetBands, signal: request.signal, asOf: asOf)
        if request.strategy == .calendar {
            guard request.cadence != .unspecified else {
                throw DomainError.invalidArgument(field: "cadence", reason: "is required with CALENDAR")
            }
            input.cadence = try RebalancingCadence(request.cadence, field: "cadence")
            input.lastRebalancedAt = try request.lastRebalancedAt.map { time throws(DomainError) in
                try Validation.instant(time, field: "last_rebalanced_at")
            }
        }
        let requestId = try RequestParsing.requestId(request.requestId)
        let fingerprint = RequestFingerprint.of(request)
        if let replayed = try await model.replayTrigger(client: input.client, requestId: requestId, fingerprint: fingerprint) { return replayed }
        let outcome = try await model.evaluate(input)
        var response = Ultracore_Holdings_V1_EvaluateRebalancingResponse()
        response.drifts = outcome.drifts.map(\.proto)
        response.shouldRebalance = outcome.shouldRebalance
        response.reasons = outcome.reasons
        response.effectiveTargets = outcome.effectiveTargets.mapValues(\.description)
        response.portfolioValue = outcome.value.description
        if outcome.shouldRebalance {
            let event = try await model.trigger(outcome, input: input, planId: "", requestId: requestId, fingerprint: fingerprint,
                                          source: "RebalancingService.EvaluateRebalancing", now: now)
            response.eventId = event.eventId
            response.rebalancingId = event.aggregateId
        }
        return response
    }

    /// RebalancingService.PlanRebalancing.
    func plan(_ request: Ultracore_Holdings_V1_PlanRebalancingRequest) async throws -> Ultracore_Holdings_V1_PlanRebalancingResponse {
        let now = Instant.now
        let input = try EvaluationInput(client: request.clientId, targets: request.targetWeights, strategy: request.strategy,
                                        band: request.band, bands: [:], signal: request.signal, asOf: now)
        let constraints = try TradingConstraints(request.constraints, field: "constraints")
        guard request.prices.count <= 10_000 else {
            throw DomainError.invalidArgument(field: "prices", reason: "holds \(request.prices.count) prices; at most 10,000")
        }
        var prices: [String: ExactDecimal] = [:]
        for (ticker, text) in request.prices {
            guard (try? Validation.ticker(ticker)) != nil else { throw DomainError.invalidArgument(field: "prices[\(ticker.prefix(20))]", reason: "is not a ticker") }
            prices[ticker] = try Validation.positive(text, field: "prices[\(ticker)]")
        }
        let planId = "plan-" + UUIDText.random()
        return try await model.plan(input, constraints: constraints, prices: prices, planId: planId, now: now).response
    }

    /// RebalancingService.ExecuteRebalancing: a dry run simulates; otherwise the run's events
    /// are recorded all or nothing (see TradeExecuted in events.proto).
    func execute(_ request: Ultracore_Holdings_V1_ExecuteRebalancingRequest) async throws -> Ultracore_Holdings_V1_ExecuteRebalancingResponse {
        let now = Instant.now
        let client = try Validation.identifier(request.clientId, field: "client_id")
        guard !request.planId.isEmpty else { throw DomainError.invalidArgument(field: "plan_id", reason: "is required") }
        let requestId = try RequestParsing.requestId(request.requestId)
        let fingerprint = RequestFingerprint.of(request)
        if !requestId.isEmpty, let response = try await model.replayExecution(client: client, requestId: requestId, fingerprint: fingerprint) {
            return response
        }
        guard let stored = model.executor.read(client, { $0.plans[request.planId] }), stored.clientId == client,
              now.microseconds - stored.createdAt.microseconds < StoredPlan.lifetime else {
            throw RPCError(.notFound, "plan \(request.planId.prefix(64)) of client \(client) not found (unknown, expired after 24 hours, or made before a restart)")
        }
        if request.dryRun {
            let (_, positions, executed) = try model.runEvents(stored, positions: model.openPositions(of: client).dictionary, now: now, requestId: "", source: "")
            var response = Ultracore_Holdings_V1_ExecuteRebalancingResponse()
            response.dryRun = true
            response.trades = executed
            response.portfolio = try PortfolioValuation.portfolio(client: client, positions: Array(positions.values), prices: WriteModel.prices(of: stored))
            response.totalCost = stored.plan.totalCost.description
            return response
        }
        return try await model.execute(stored, requestId: requestId, fingerprint: fingerprint, source: "RebalancingService.ExecuteRebalancing", now: now)
    }

    /// RebalancingService.ScheduleRebalancing: creates or replaces the client's schedule
    /// (REBALANCING_SCHEDULED; the read model keeps it across restarts).
    func schedule(_ request: Ultracore_Holdings_V1_ScheduleRebalancingRequest) async throws -> Ultracore_Holdings_V1_ScheduleRebalancingResponse {
        let now = Instant.now
        let cadence = try RebalancingCadence(request.cadence, field: "cadence")
        let input = try EvaluationInput(client: request.clientId, targets: request.targetWeights, strategy: request.strategy,
                                        band: request.band, bands: [:], signal: nil, asOf: now)
        let start = try request.startAt.map { time throws(DomainError) in try Validation.instant(time, field: "start_at") }
            ?? cadence.boundary(after: now)
        let requestId = try RequestParsing.requestId(request.requestId)
        let fingerprint = RequestFingerprint.of(request)
        let client = input.client
        if let event = try await model.recordedEvent(client: client, requestId: requestId, fingerprint: fingerprint) {
            guard case .rebalancingScheduled(let scheduled)? = event.payload else { throw WriteModel.outcomeNotReadable }
            var response = Ultracore_Holdings_V1_ScheduleRebalancingResponse()
            response.schedule = scheduled.schedule
            return response
        }
        let existing = model.executor.read(client) { $0.schedule }
        var schedule = Ultracore_Holdings_V1_RebalancingSchedule()
        schedule.scheduleId = existing?.schedule.scheduleId ?? ("sched-" + UUIDText.random())
        schedule.clientId = client
        schedule.cadence = request.cadence
        schedule.strategy = request.strategy
        schedule.targetWeights = input.targets.mapValues(\.description)
        schedule.band = input.band.proto
        schedule.enabled = request.enabled
        schedule.nextRunAt = start.timestamp
        schedule.lastRunAt = existing?.schedule.lastRunAt
        schedule.autoExecute = request.autoExecute
        try await model.saveSchedule(schedule, after: existing?.version ?? 0, requestId: requestId, fingerprint: fingerprint,
                               source: "RebalancingService.ScheduleRebalancing", now: now)
        var response = Ultracore_Holdings_V1_ScheduleRebalancingResponse()
        response.schedule = schedule
        return response
    }
}

/// Where the scheduler reads the time.
public protocol SchedulerClock: Sendable {
    /// The current instant; nil when unknown (nothing fires).
    func now() -> Instant?
}

/// The server clock.
public struct SystemSchedulerClock: SchedulerClock {
    public init() {}
    public func now() -> Instant? { .now }
}

/// A clock read from a file holding whole seconds since 1970-01-01 UTC (tests move time
/// by rewriting the file).
public struct FileSchedulerClock: SchedulerClock {
    let path: String

    public init(path: String) { self.path = path }

    public func now() -> Instant? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let seconds = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return nil }
        return Instant(microseconds: seconds * 1_000_000)
    }
}

/// Evaluates the stored schedules when they are due, every `interval`, on its own task.
public final class RebalancingScheduler: Sendable {
    let model: WriteModel
    let clock: any SchedulerClock
    let interval: Duration
    private let task = Mutex<Task<Void, Never>?>(nil)

    public init(model: WriteModel, clock: any SchedulerClock, interval: Duration = .seconds(1)) {
        self.model = model
        self.clock = clock
        self.interval = interval
    }

    public func start() {
        let model = self.model, clock = self.clock, interval = self.interval
        task.withLock { task in
            task = Task.detached {
                while !Task.isCancelled {
                    if let now = clock.now() {
                        for entry in model.dueSchedules(at: now) {
                            await Self.fire(entry, model: model, now: now)
                        }
                    }
                    try? await Task.sleep(for: interval)
                }
            }
        }
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    /// One firing; a refusal of the domain (nothing priced, …) still moves the schedule on,
    /// a failure of the log or the database is retried at the next tick.
    static func fire(_ entry: ClientBook.ScheduleEntry, model: WriteModel, now: Instant) async {
        let id = entry.schedule.scheduleId, client = entry.schedule.clientId
        do {
            let notes = try await model.runSchedule(entry, now: now)
            Log.info("scheduler", "schedule \(id) of \(client) at \(now.isoText): \(notes.joined(separator: "; "))", [("client_id", client)])
        } catch let error as DomainError {
            Log.error("scheduler", "schedule \(id) of \(client): \(ServiceError.status(error).message); moving to the next run", [("client_id", client)])
            do {
                var schedule = entry.schedule
                let cadence = try RebalancingCadence(schedule.cadence, field: "cadence")
                schedule.lastRunAt = now.timestamp
                schedule.nextRunAt = cadence.boundary(after: now).timestamp
                try await model.saveSchedule(schedule, after: entry.version, requestId: "", fingerprint: "", source: "scheduler/\(id)", now: .now)
            } catch {
                Log.error("scheduler", "schedule \(id) of \(client) not moved: \(ServiceError.status(error).message); retrying", [("client_id", client)])
            }
        } catch {
            Log.error("scheduler", "schedule \(id) of \(client): \(ServiceError.status(error).message); retrying at the next tick", [("client_id", client)])
        }
    }
}
