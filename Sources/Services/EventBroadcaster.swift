import HoldingsProto
import Synchronization
import Store

/// Live events for WatchEvents: the write model publishes each event once the broker
/// acknowledged it (per aggregate in version order: one writer per client). Every
/// subscriber has a bounded buffer; one that falls `capacity` events behind is cut off
/// (its stream ends, `overflowed` is set) so a slow reader never slows the writers.
public final class EventBroadcaster: Sendable {
    public final class Subscription: Sendable {
        public let events: AsyncStream<Ultracore_Holdings_V1_Event>
        let continuation: AsyncStream<Ultracore_Holdings_V1_Event>.Continuation
        let filter: @Sendable (Ultracore_Holdings_V1_Event) -> Bool
        private let overflow = Atomic<Bool>(false)

        init(capacity: Int, filter: @escaping @Sendable (Ultracore_Holdings_V1_Event) -> Bool) {
            (events, continuation) = AsyncStream.makeStream(of: Ultracore_Holdings_V1_Event.self,
                                                            bufferingPolicy: .bufferingOldest(capacity))
            self.filter = filter
        }

        /// True when the subscriber fell too far behind and was cut off.
        public var overflowed: Bool { overflow.load(ordering: .relaxed) }

        func deliver(_ event: Ultracore_Holdings_V1_Event) {
            guard filter(event) else { return }
            if case .dropped = continuation.yield(event) {
                overflow.store(true, ordering: .relaxed)
                continuation.finish()
            }
        }
    }

    private let subscribers = Mutex<[ObjectIdentifier: Subscription]>([:])
    public let capacity: Int

    public init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    public func subscribe(filter: @escaping @Sendable (Ultracore_Holdings_V1_Event) -> Bool) -> Subscription {
        let subscription = Subscription(capacity: capacity, filter: filter)
        subscribers.withLock { $0[ObjectIdentifier(subscription)] = subscription }
        return subscription
    }

    public func unsubscribe(_ subscription: Subscription) {
        subscription.continuation.finish()
        subscribers.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(subscription)) }
    }

    func publish(_ events: [Ultracore_Holdings_V1_Event]) {
        let current = subscribers.withLock { Array($0.values) }
        for subscription in current {
            for event in events { subscription.deliver(event) }
        }
    }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }
}
