import Synchronization
import Store

/// State per key (a client), each with its own writer: `write(key)` runs bodies of one key
/// one at a time in arrival order, without blocking a thread while waiting; different keys
/// share no lock but the brief one of their shard of the registry (taken to find the slot,
/// never while a body runs). Readers take a snapshot of one key's state without waiting
/// for its writer.
final class KeyedStates<State: Sendable>: Sendable {
    final class Slot: Sendable {
        let state: Mutex<State>
        /// Held by a writer; the array holds the writers waiting, first come first served.
        private let writer = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

        /// Commands queued to be decided and recorded together (``CommandExecutor/batched(_:_:)``),
        /// in arrival order.
        let pending = Mutex<[any QueuedCommand]>([])

        init(_ state: State) { self.state = Mutex(state) }

        func acquire() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let granted = writer.withLock { writer -> Bool in
                    if !writer.held {
                        writer.held = true
                        return true
                    }
                    writer.waiters.append(continuation)
                    return false
                }
                if granted { continuation.resume() }
            }
        }

        func release() {
            let next = writer.withLock { writer -> CheckedContinuation<Void, Never>? in
                guard !writer.waiters.isEmpty else {
                    writer.held = false
                    return nil
                }
                return writer.waiters.removeFirst()
            }
            next?.resume()
        }

        var isHeld: Bool { writer.withLock { $0.held } }
    }

    private static var shardCount: Int { 64 }
    private let shards: [Locked<[String: Slot]>]
    private let make: @Sendable (String) -> State

    init(initial make: @escaping @Sendable (String) -> State) {
        self.make = make
        shards = (0..<Self.shardCount).map { _ in Locked([:]) }
    }

    private func shard(_ key: String) -> Int {
        var hasher = Hasher()
        hasher.combine(key)
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(Self.shardCount))
    }

    /// The key's slot, made on first use.
    func slot(_ key: String) -> Slot {
        let make = self.make
        return shards[shard(key)].withLock { slots in
            if let slot = slots[key] { return slot }
            let slot = Slot(make(key))
            slots[key] = slot
            return slot
        }
    }

    /// The key's slot if it was ever used.
    func existing(_ key: String) -> Slot? {
        shards[shard(key)].withLock { $0[key] }
    }

    /// Reads the key's state as it is now (the initial state for a key never used).
    func read<R>(_ key: String, _ body: (borrowing State) throws -> R) rethrows -> R {
        if let slot = existing(key) { return try slot.state.withLock { try body($0) } }
        return try body(make(key))
    }

    /// Runs `body` as the key's only writer.
    func write<R>(_ key: String, _ body: (Slot) async throws -> R) async throws -> R {
        let slot = slot(key)
        await slot.acquire()
        defer { slot.release() }
        return try await body(slot)
    }

    /// Replaces every key's state (a rebuild, before anything is served).
    func replaceAll(_ states: [String: State]) {
        for index in shards.indices { shards[index].withLock { $0 = [:] } }
        for (key, state) in states {
            shards[shard(key)].withLock { $0[key] = Slot(state) }
        }
    }

    /// Every key with a slot.
    var keys: [String] { shards.flatMap { shard in shard.withLock { Array($0.keys) } } }
}

/// A value behind its own mutex, as a reference (a Mutex cannot live in an array).
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R {
        try mutex.withLock(body)
    }
}

/// A command waiting in a slot's queue (type-erased: the slot does not know the command's state).
protocol QueuedCommand: AnyObject, Sendable {}
