import Foundation
import Synchronization
import Store

/// Backpressure between the writers and the projector. For every partition it knows the
/// offsets the broker acknowledged, the writes in flight, and the next offset the
/// projector committed to Postgres. A write to a partition whose unprojected events
/// (acknowledged − projected + in flight) reached `maxLag` is refused with UNAVAILABLE
/// before anything is produced.
///
/// Why: the embedded broker keeps only about 5 MiB / 100,000 message sets per partition
/// and drops the oldest beyond that; an acknowledged event the projector has not stored
/// yet must never be among the dropped. Events are a few hundred bytes, so the default
/// limit of 5,000 events stays well under the cap.
public final class ProjectionGate: Sendable {
    public struct Lag: Sendable {
        public var partition: PartitionKey
        public var acknowledged: Int64
        public var projected: Int64
        public var inFlight: Int
        public var events: Int64 { max(0, acknowledged - projected) + Int64(inFlight) }
    }

    private struct Counters {
        var acknowledgedNext: Int64 = 0
        var projectedNext: Int64 = 0
        var inFlight = 0
    }

    /// A call waiting for the projector to reach `targets`; resumed by `projected`, by the
    /// sweep after its deadline, or by its cancellation, whichever comes first (the one
    /// that removes it).
    private struct Waiter {
        let targets: [PartitionKey: Int64]
        let continuation: CheckedContinuation<Bool, Never>
        let deadline: ContinuousClock.Instant
    }

    private struct Partitions {
        var counters: [PartitionKey: Counters] = [:]
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        /// A sweeper task is running (it ends when no waiter is left).
        var sweeping = false

        func reached(_ targets: [PartitionKey: Int64]) -> Bool {
            !targets.contains { counters[$0.key, default: Counters()].projectedNext < $0.value }
        }
    }

    public let maxLag: Int
    private let partitions = Mutex(Partitions())
    /// Aggregates with an open dead letter (the projector adds them before it reports the
    /// batch projected; the write model refuses their writes).
    private let quarantine = Mutex<Set<String>>([])

    /// Marks aggregates whose events wait in the dead-letter table.
    public func quarantine(_ aggregates: some Sequence<String>) {
        quarantine.withLock { $0.formUnion(aggregates) }
    }

    /// The quarantined aggregates: every open dead letter's, loaded at start and added as
    /// the projector dead-letters more.
    public var quarantined: Set<String> {
        quarantine.withLock { $0 }
    }

    public func isQuarantined(_ aggregate: String) -> Bool {
        quarantine.withLock { $0.contains(aggregate) }
    }

    public init(maxLag: Int) {
        self.maxLag = max(1, maxLag)
    }

    /// Claims room for `count` events on `partition`; nil when the projection is too far behind.
    public func reserve(_ partition: PartitionKey, count: Int = 1) -> Lag? {
        partitions.withLock { state in
            var counters = state.counters[partition, default: Counters()]
            let lag = max(0, counters.acknowledgedNext - counters.projectedNext) + Int64(counters.inFlight)
            if lag + Int64(count) > Int64(maxLag) {
                return Lag(partition: partition, acknowledged: counters.acknowledgedNext, projected: counters.projectedNext,
                           inFlight: counters.inFlight)
            }
            counters.inFlight += count
            state.counters[partition] = counters
            return nil
        }
    }

    /// Ends a reservation; `acknowledgedOffset` is the last offset the broker acknowledged, if any.
    public func release(_ partition: PartitionKey, count: Int = 1, acknowledgedOffset: Int64?) {
        partitions.withLock { state in
            var counters = state.counters[partition, default: Counters()]
            counters.inFlight = max(0, counters.inFlight - count)
            if let offset = acknowledgedOffset { counters.acknowledgedNext = max(counters.acknowledgedNext, offset + 1) }
            state.counters[partition] = counters
        }
    }

    /// The projector stored everything before `next` on `partition`.
    public func projected(_ partition: PartitionKey, next: Int64) {
        let satisfied = partitions.withLock { state -> [Waiter] in
            var counters = state.counters[partition, default: Counters()]
            guard next > counters.projectedNext else { return [] }
            counters.projectedNext = next
            counters.acknowledgedNext = max(counters.acknowledgedNext, counters.projectedNext)
            state.counters[partition] = counters
            var ready: [Int] = []
            for (id, waiter) in state.waiters where waiter.targets[partition] != nil && state.reached(waiter.targets) {
                ready.append(id)
            }
            return ready.compactMap { state.waiters.removeValue(forKey: $0) }
        }
        for waiter in satisfied { waiter.continuation.resume(returning: true) }
    }

    /// Acknowledged next offsets of every partition: what a read must wait for to see
    /// every write acknowledged so far.
    public func acknowledgedSnapshot() -> [PartitionKey: Int64] {
        partitions.withLock { state in state.counters.compactMapValues { $0.acknowledgedNext > $0.projectedNext ? $0.acknowledgedNext : nil } }
    }

    public var projectedSnapshot: [PartitionKey: Int64] {
        partitions.withLock { state in state.counters.mapValues(\.projectedNext) }
    }

    /// Waits until the projector reached `targets` on every partition (woken by
    /// `projected`, no polling), or `timeout` passed, or the task is cancelled. Returns
    /// false on timeout and cancellation.
    public func waitProjected(_ targets: [PartitionKey: Int64], timeout: Duration) async -> Bool {
        let id = partitions.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let deadline = ContinuousClock.now + timeout
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let (immediate, startSweeper) = partitions.withLock { state -> (Bool?, Bool) in
                    if state.reached(targets) { return (true, false) }
                    if Task.isCancelled { return (false, false) }
                    state.waiters[id] = Waiter(targets: targets, continuation: continuation, deadline: deadline)
                    defer { state.sweeping = true }
                    return (nil, !state.sweeping)
                }
                if let immediate { return continuation.resume(returning: immediate) }
                if startSweeper { sweep() }
            }
        } onCancel: {
            giveUp(id)
        }
    }

    /// How often waiters past their deadline are given up: one task for all of them while
    /// any waits (a timer task per write cost a task, a timer and a cancellation each).
    static let sweepInterval: Duration = .milliseconds(50)

    private func sweep() {
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: Self.sweepInterval)
                guard let self else { return }
                let now = ContinuousClock.now
                // The sweeper ends, under the lock, when no waiter is left (the next wait starts another).
                let (expired, done) = partitions.withLock { state -> ([Waiter], Bool) in
                    let ids = state.waiters.compactMap { $0.value.deadline <= now ? $0.key : nil }
                    let expired = ids.compactMap { state.waiters.removeValue(forKey: $0) }
                    if state.waiters.isEmpty { state.sweeping = false }
                    return (expired, !state.sweeping)
                }
                for waiter in expired { waiter.continuation.resume(returning: false) }
                if done { return }
            }
        }
    }

    /// Ends a wait with false (its task's cancellation), if still waiting.
    private func giveUp(_ id: Int) {
        guard let waiter = partitions.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.continuation.resume(returning: false)
    }

    /// Lag of every partition known, for logs and metrics.
    public func lags() -> [Lag] {
        partitions.withLock { state in
            state.counters.map { Lag(partition: $0.key, acknowledged: $0.value.acknowledgedNext, projected: $0.value.projectedNext, inFlight: $0.value.inFlight) }
        }
    }
}
