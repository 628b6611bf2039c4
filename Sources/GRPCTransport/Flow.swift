import RPCCore
import Synchronization

/// Backpressure for one stream's outgoing messages: a writer adds the bytes it queues
/// and suspends while more than `highWater` bytes wait to be sent; the event loop
/// releases bytes as HTTP/2 flow control lets them out. Memory per stream stays bounded
/// however slowly the peer reads.
public final class OutboundGate: Sendable {
    private struct State {
        var pending = 0
        var waiter: CheckedContinuation<Void, any Error>?
        var failure: (any Error)?
    }
    private let state = Mutex(State())
    private let highWater: Int

    public init(highWater: Int = 1 << 20) {
        self.highWater = highWater
    }

    /// Counts `bytes` as queued; throws when the stream has ended.
    public func add(_ bytes: Int) throws {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            state.pending += bytes
        }
    }

    /// Suspends while too much is queued; throws when the stream ends meanwhile.
    public func waitForRoom() async throws {
        if state.withLock({ $0.pending <= highWater && $0.failure == nil }) { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if let failure = state.failure { return .failure(failure) }
                    if state.pending <= highWater { return .success(()) }
                    state.waiter = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            fail(CancellationError())
        }
    }

    /// `bytes` left for the peer (loop side).
    public func release(_ bytes: Int) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            state.pending -= bytes
            guard state.pending <= highWater / 2, let waiter = state.waiter else { return nil }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// The stream ended: a waiting writer and every later write get `error`.
    public func fail(_ error: any Error) {
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            if state.failure == nil { state.failure = error }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume(throwing: error)
    }
}

/// The messages received on one stream, waiting for their reader. A reader taking a
/// message reports its wire size through `onConsumed`, which the connection turns into
/// HTTP/2 window updates: a reader that stops reading stops the sender.
public final class InboundMessages: Sendable {
    private struct State {
        var messages: [(message: [UInt8], wireSize: Int, compressed: Bool)] = []
        var head = 0
        var end: Result<Void, any Error>?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
    }
    private let state = Mutex(State())
    private let onConsumed: @Sendable (Int) -> Void
    private let info: RequestInfo?

    /// - Parameter info: told, as each message is read, whether it came compressed.
    public init(info: RequestInfo? = nil, onConsumed: @escaping @Sendable (Int) -> Void) {
        self.info = info
        self.onConsumed = onConsumed
    }

    /// Loop side: a message arrived.
    public func deliver(_ message: [UInt8], wireSize: Int, compressed: Bool = false) {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.messages.append((message, wireSize, compressed))
            return nil
        }
        if let waiter {
            info?.recordMessage(compressed: compressed)
            onConsumed(wireSize)
            waiter.resume(returning: message)
        }
    }

    /// Loop side: no more messages. Queued ones are still read first, unless an error
    /// ends the stream with `discardQueued` (the call was abandoned).
    public func finish(throwing error: (any Error)? = nil, discardQueued: Bool = true) {
        let waiter: CheckedContinuation<[UInt8]?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            if let error {
                state.end = .failure(error)
                if discardQueued {
                    state.messages.removeAll()
                    state.head = 0
                }
            } else {
                state.end = .success(())
            }
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
    }

    private enum Taken {
        case message([UInt8], wireSize: Int, compressed: Bool)
        case end
        case failure(any Error)
    }

    /// The next queued message or the end, if either is there.
    private static func take(_ state: inout State) -> Taken? {
        if state.head < state.messages.count {
            let (message, size, compressed) = state.messages[state.head]
            state.messages[state.head] = ([], 0, false)
            state.head += 1
            if state.head == state.messages.count {
                state.messages.removeAll(keepingCapacity: true)
                state.head = 0
            }
            return .message(message, wireSize: size, compressed: compressed)
        }
        switch state.end {
        case .success?: return .end
        case .failure(let error)?: return .failure(error)
        case nil: return nil
        }
    }

    /// Reader side: the next message, nil at the end.
    public func next() async throws -> [UInt8]? {
        if let taken = state.withLock({ Self.take(&$0) }) { return try settle(taken) }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                let taken: Taken? = state.withLock { state in
                    if let taken = Self.take(&state) { return taken }
                    state.waiter = continuation
                    return nil
                }
                if let taken { continuation.resume(with: Result { try settle(taken) }) }
            }
        } onCancel: {
            finish(throwing: CancellationError())
        }
    }

    private func settle(_ taken: Taken) throws -> [UInt8]? {
        switch taken {
        case .message(let message, let size, let compressed):
            info?.recordMessage(compressed: compressed)
            onConsumed(size)
            return message
        case .end: return nil
        case .failure(let error): throw error
        }
    }
}

/// Flow-control accounting of one received stream: body bytes received, given back to
/// the peer (consumed), and held in messages the reader has not taken yet.
public struct WindowAccount {
    public private(set) var received = 0
    public private(set) var consumed = 0
    public private(set) var held = 0

    public init() {}

    public mutating func receive(_ bytes: Int) { received += bytes }
    public mutating func hold(_ bytes: Int) { held += bytes }
    public mutating func release(_ bytes: Int) { held -= bytes }

    /// Bytes to consume now: every received byte not held (all of them once the
    /// stream's messages no longer matter); counted as consumed.
    public mutating func settle(ignoringHeld: Bool) -> Int {
        let free = ignoringHeld ? received - consumed : received - consumed - held
        guard free > 0 else { return 0 }
        consumed += free
        return free
    }

    /// Received bytes never consumed (owed to the connection window when the stream is gone).
    public var outstanding: Int { received - consumed }
}

/// A value produced once, awaited by any number of tasks.
public final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var value: Result<Value, RPCError>?
        var waiters: [CheckedContinuation<Value, any Error>] = []
    }
    private let state = Mutex(State())

    public init() {}

    /// Sets the value; later calls are ignored.
    public func complete(_ result: Result<Value, RPCError>) {
        let waiters: [CheckedContinuation<Value, any Error>] = state.withLock { state in
            guard state.value == nil else { return [] }
            state.value = result
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    public func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, RPCError>? = state.withLock { state in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
    }
}
