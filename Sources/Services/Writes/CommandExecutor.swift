import EventLog
import HoldingsProto
import RPCCore
import Store

/// The state of one key (a client) that commands decide on and recorded events change.
protocol CommandState: Sendable {
    associatedtype Change: Sendable
    init()
    /// The event a change records.
    static func event(of change: Change) -> Ultracore_Holdings_V1_Event
    /// Applies a change whose event the log holds.
    mutating func apply(_ change: Change)
    /// The last write may be in the log although it failed: writes wait until it is confirmed.
    var unconfirmed: Bool { get set }
}

/// Runs every write the same way: lock the client → decide on that client's state →
/// produce → apply what the log acknowledged → confirm what may be in it although it
/// failed. Each client has its own state and writer; different clients share no lock.
final class CommandExecutor<State: CommandState>: Sendable {
    let states: KeyedStates<State>
    let recorder: EventRecorder
    /// Called with each client's applied changes, still under its writer (indexes, watchers).
    private let applied: @Sendable (String, [State.Change]) -> Void
    /// Reads a client's state from the store (after the projector stored the log's tail) and
    /// gives the change that brings its state up to it.
    private let reload: @Sendable (String) async throws -> @Sendable (inout State) -> Void

    init(recorder: EventRecorder, applied: @escaping @Sendable (String, [State.Change]) -> Void,
         reload: @escaping @Sendable (String) async throws -> @Sendable (inout State) -> Void) {
        self.states = KeyedStates { _ in State() }
        self.recorder = recorder
        self.applied = applied
        self.reload = reload
    }

    /// The writer of one client, lent to a command while it runs.
    struct Writer: Sendable {
        let client: String
        fileprivate let slot: KeyedStates<State>.Slot
        fileprivate let executor: CommandExecutor<State>

        /// The client's state as it is (no other writer can change it meanwhile).
        func read<R>(_ body: (borrowing State) throws -> R) rethrows -> R {
            try slot.state.withLock { try body($0) }
        }

        /// Changes state that is not in the log (plans kept in memory).
        func update<R>(_ body: (inout State) throws -> R) rethrows -> R {
            try slot.state.withLock { try body(&$0) }
        }

        /// Produces the changes' events; applies those the log holds (all or none when
        /// `allOrNothing`), and confirms the client against the log when one may be there
        /// although it failed (unless `allOrNothing`: the caller settles a partial run).
        /// One result per change: nil when recorded.
        func record(_ changes: [State.Change], allOrNothing: Bool = false) async -> EventRecorder.Outcome {
            let outcome = await executor.recorder.record(changes.map(State.event(of:)), client: client)
            let failed = outcome.results.contains { $0 != nil }
            let recorded = allOrNothing && failed ? [] : zip(changes, outcome.results).compactMap { $1 == nil ? $0 : nil }
            if !recorded.isEmpty {
                slot.state.withLock { state in for change in recorded { state.apply(change) } }
                executor.applied(client, recorded)
            }
            if !outcome.uncertain.isEmpty && !allOrNothing { executor.confirm(client, partitions: outcome.uncertain) }
            return outcome
        }

        /// Records one change; throws its failure.
        func record(_ change: State.Change) async throws {
            if let error = await record([change]).results[0] { throw error }
        }
    }

    /// Runs `body` as the client's only writer; UNAVAILABLE while its last write is being confirmed.
    func write<R>(_ client: String, _ body: (Writer) async throws -> R) async throws -> R {
        try await states.write(client) { slot in
            if slot.state.withLock({ $0.unconfirmed }) { throw Self.unconfirmedError(client) }
            return try await body(Writer(client: client, slot: slot, executor: self))
        }
    }

    static func unconfirmedError(_ client: String) -> RPCError {
        RPCError(.unavailable, "the last write of client \(client) is being confirmed against the event log; retry shortly")
    }

    /// A snapshot read of one client's state.
    func read<R>(_ client: String, _ body: (borrowing State) throws -> R) rethrows -> R {
        try states.read(client, body)
    }

    /// Changes a client's state that is not in the log (plans kept in memory), without its writer.
    func update<R>(_ client: String, _ body: (inout State) throws -> R) rethrows -> R {
        try states.slot(client).state.withLock { try body(&$0) }
    }

    /// A write may be in `partitions` although it failed: refuse the client's writes until
    /// the projector stored them up to their current ends, then reload the client's state.
    func confirm(_ client: String, partitions: [PartitionKey]) {
        states.slot(client).state.withLock { $0.unconfirmed = true }
        Log.error("write-model", "a write of client \(client) may be in \(partitions) although it failed; confirming")
        Task.detached { [self] in
            while true {
                do {
                    try await recorder.waitStored(partitions)
                    let refresh = try await reload(client)
                    states.slot(client).state.withLock { state in
                        refresh(&state)
                        state.unconfirmed = false
                    }
                    Log.info("write-model", "client \(client) confirmed from the log")
                    return
                } catch {
                    Log.error("write-model", "confirming client \(client): \(error); retrying")
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }
}
