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
            await executor.record(changes, client: client, slot: slot, allOrNothing: allOrNothing)
        }

        /// Records one change; throws its failure.
        func record(_ change: State.Change) async throws {
            if let error = await record([change]).results[0] { throw error }
        }
    }

    /// A command that decides on the client's committed state without waiting for anything,
    /// so that it can be recorded together with the client's other queued commands.
    final class BatchedCommand: QueuedCommand, @unchecked Sendable {
        /// What deciding gives.
        enum Decision {
            /// Record this change. `keys` name what it reads and changes (its aggregate, its
            /// ticker, its request id): commands of one batch share no key, so each decides on
            /// the committed state exactly as it would alone, after the ones before it.
            case record(State.Change, keys: [String])
            /// Nothing to record: the command is answered with this (a replay, a refusal).
            case answer(Result<Outcome, any Error>)
        }

        /// How the command ended.
        enum Outcome: Sendable {
            /// The change is in the log (and, embedded, in Postgres) and applied.
            case recorded(State.Change)
            /// The request id was seen before: the caller answers from the first outcome.
            case replay(aggregate: String, version: Int64, eventId: String)
        }

        /// Runs under the client's writer on its committed state.
        let decide: @Sendable (borrowing State) -> Decision
        /// Set once, under the client's writer; read by the caller after it took the writer in turn.
        private(set) var outcome: Result<Outcome, any Error>?

        init(decide: @escaping @Sendable (borrowing State) -> Decision) {
            self.decide = decide
        }

        fileprivate func settle(_ result: Result<Outcome, any Error>) {
            if outcome == nil { outcome = result }
        }
    }

    /// Group commit for one client: `command` joins the client's queue; whoever holds the
    /// writer next decides every queued command on the committed state (in arrival order,
    /// stopping before the first that shares a key with an earlier one of the batch), produces
    /// their events in one send, waits for the log (and, embedded, Postgres) once, and applies
    /// what was recorded. Each command's outcome is its own event's, exactly as if the
    /// commands had run one by one: the ones of a batch are independent (no shared key). A
    /// client's throughput is no longer one pipeline round trip per write.
    func batched(_ client: String, _ command: BatchedCommand) async throws -> BatchedCommand.Outcome {
        let slot = states.slot(client)
        slot.pending.withLock { $0.append(command) }
        try await states.write(client) { slot in
            // Each batch settles at least the first queued command, so this ends; a command the
            // batch left for later (it shared a key) is settled by the next one.
            while command.outcome == nil { await runBatch(client, slot) }
        }
        guard let outcome = command.outcome else {
            throw RPCError(.internal, "a batched command of client \(client) ended without an outcome")
        }
        return try outcome.get()
    }

    /// One batch of the client's queue (the caller holds the writer).
    private func runBatch(_ client: String, _ slot: KeyedStates<State>.Slot) async {
        let queued = slot.pending.withLock { pending -> [BatchedCommand] in
            defer { pending.removeAll() }
            return pending.compactMap { $0 as? BatchedCommand }
        }
        if slot.state.withLock({ $0.unconfirmed }) {
            for command in queued { command.settle(.failure(Self.unconfirmedError(client))) }
            return
        }
        var batch: [(command: BatchedCommand, change: State.Change)] = []
        var later: [BatchedCommand] = []
        var touched = Set<String>()
        slot.state.withLock { state in
            for command in queued {
                guard later.isEmpty else {
                    later.append(command)
                    continue
                }
                switch command.decide(state) {
                case .answer(let result):
                    command.settle(result)
                case .record(let change, let keys):
                    if keys.contains(where: touched.contains) {
                        later.append(command)
                    } else {
                        touched.formUnion(keys)
                        batch.append((command, change))
                    }
                }
            }
        }
        // The rest go back to the front of the queue, in order; their callers, next in line
        // for the writer, run the next batch.
        if !later.isEmpty { slot.pending.withLock { $0.insert(contentsOf: later as [any QueuedCommand], at: 0) } }
        guard !batch.isEmpty else { return }
        let outcome = await record(batch.map(\.change), client: client, slot: slot, allOrNothing: false)
        for ((command, change), error) in zip(batch, outcome.results) {
            command.settle(error.map { .failure($0) } ?? .success(.recorded(change)))
        }
    }

    /// Produces the changes' events; applies those the log holds (all or none when
    /// `allOrNothing`), and confirms the client against the log when one may be there
    /// although it failed (unless `allOrNothing`: the caller settles a partial run). The
    /// caller holds the client's writer.
    private func record(_ changes: [State.Change], client: String, slot: KeyedStates<State>.Slot,
                        allOrNothing: Bool) async -> EventRecorder.Outcome {
        let outcome = await recorder.record(changes.map(State.event(of:)), client: client)
        let failed = outcome.results.contains { $0 != nil }
        let recorded = allOrNothing && failed ? [] : zip(changes, outcome.results).compactMap { $1 == nil ? $0 : nil }
        if !recorded.isEmpty {
            slot.state.withLock { state in for change in recorded { state.apply(change) } }
            applied(client, recorded)
        }
        if !outcome.uncertain.isEmpty && !allOrNothing { confirm(client, partitions: outcome.uncertain) }
        return outcome
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
