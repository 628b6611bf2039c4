import Domain
import Foundation
import HoldingsProto
import RPCCore
import Security
import Synchronization

/// RebalancingService: evaluation, tax-aware plans, all-or-nothing execution, schedules.
public struct RebalancingService: Ultracore_Holdings_V1_RebalancingService.ServiceProtocol {
    let model: WriteModel

    public init(model: WriteModel) { self.model = model }

    public func evaluateRebalancing(request: Ultracore_Holdings_V1_EvaluateRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_EvaluateRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await model.evaluateRebalancing(request)
        }
    }

    public func planRebalancing(request: Ultracore_Holdings_V1_PlanRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_PlanRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.read, client: try Validation.identifier(request.clientId, field: "client_id"))
            return try await model.planRebalancing(request)
        }
    }

    public func executeRebalancing(request: Ultracore_Holdings_V1_ExecuteRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ExecuteRebalancingResponse {
        try await ServiceError.mapping {
            // A plan is found only under the client it was made for: another client's plan id is NOT_FOUND.
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await model.executeRebalancing(request)
        }
    }

    public func scheduleRebalancing(request: Ultracore_Holdings_V1_ScheduleRebalancingRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ScheduleRebalancingResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            return try await model.scheduleRebalancing(request)
        }
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
            Log.info("scheduler", "schedule \(id) of \(client) at \(now.isoText): \(notes.joined(separator: "; "))")
        } catch let error as DomainError {
            Log.error("scheduler", "schedule \(id) of \(client): \(ServiceError.status(error).message); moving to the next run")
            do {
                var schedule = entry.schedule
                let cadence = try RebalancingCadence(schedule.cadence, field: "cadence")
                schedule.lastRunAt = now.timestamp
                schedule.nextRunAt = cadence.boundary(after: now).timestamp
                try await model.saveSchedule(schedule, after: entry.version, requestId: "", fingerprint: "", source: "scheduler/\(id)", now: .now)
            } catch {
                Log.error("scheduler", "schedule \(id) of \(client) not moved: \(ServiceError.status(error).message); retrying")
            }
        } catch {
            Log.error("scheduler", "schedule \(id) of \(client): \(ServiceError.status(error).message); retrying at the next tick")
        }
    }
}
