import CLinux
import Foundation
import Synchronization

/// Moves a value that is not Sendable to the event loop that will own it.
public struct UncheckedBox<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

/// One thread running epoll: file descriptor callbacks and work submitted from other
/// threads run on it, one at a time.
///
/// `@unchecked Sendable`: the fd table is touched only on the loop thread (checked by
/// `preconditionInLoop`); the work queue is guarded by a Mutex.
public final class EventLoop: @unchecked Sendable {
    private let epoll: Int32
    private let wakeFD: Int32
    private var handlers: [Int32: (UInt32) -> Void] = [:]
    private let queue = Mutex<[@Sendable () -> Void]>([])
    /// Loop-side work to run once the current round of events and submitted work is done
    /// (a connection's flush: one write for everything the round queued).
    private var beforeSleep: [() -> Void] = []
    /// Timers (loop thread only): call deadlines, without a task and a sleep per call.
    private var timers = LoopTimers()
    private var thread: Thread?
    /// The loop thread's id, set once when it starts (before any work can reach the loop).
    private let threadID = Atomic<UInt>(0)
    public let name: String

    public init(name: String) {
        self.name = name
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(epoll >= 0 && wakeFD >= 0, "epoll/eventfd: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
    }

    deinit {
        close(wakeFD)
        close(epoll)
    }

    public func start() {
        let thread = Thread { [self] in
            threadID.store(UInt(pthread_self()), ordering: .releasing)
            run()
        }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    public var inLoop: Bool {
        threadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    public func preconditionInLoop() {
        precondition(inLoop, "called off the event loop \(name)")
    }

    /// Runs `work` on the loop thread, soon. Only the submission that finds the queue empty
    /// wakes the loop (one eventfd write); later ones ride on that wake-up.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = queue.withLock { queue in
            queue.append(work)
            return queue.count == 1
        }
        guard wasEmpty else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Runs `work` on the loop thread after the current round of events and submitted work
    /// (loop thread only).
    public func runBeforeSleep(_ work: @escaping () -> Void) {
        preconditionInLoop()
        beforeSleep.append(work)
    }

    /// Runs `work` on the loop thread at `deadline` unless cancelled first (loop thread only).
    public func schedule(at deadline: ContinuousClock.Instant, _ work: @escaping () -> Void) -> LoopTimers.ID {
        preconditionInLoop()
        return timers.schedule(at: deadline, work)
    }

    /// Cancels a timer that has not fired (loop thread only); a fired or unknown one is ignored.
    public func cancel(_ timer: LoopTimers.ID) {
        preconditionInLoop()
        timers.cancel(timer)
    }

    /// Watches `fd` for `events` (EPOLLIN/EPOLLOUT bits); loop thread only.
    public func register(_ fd: Int32, events: UInt32, handler: @escaping (UInt32) -> Void) {
        preconditionInLoop()
        handlers[fd] = handler
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    }

    public func modify(_ fd: Int32, events: UInt32) {
        preconditionInLoop()
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event)
    }

    public func unregister(_ fd: Int32) {
        preconditionInLoop()
        handlers[fd] = nil
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let count = epoll_wait(epoll, &events, Int32(events.count), timers.waitMilliseconds(now: .now))
            if count < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait: errno \(errno)")
            }
            for index in 0..<Int(count) {
                let fd = events[index].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                handlers[fd]?(events[index].events)
            }
            let work = queue.withLock { pending -> [@Sendable () -> Void] in
                let taken = pending
                pending.removeAll(keepingCapacity: true)
                return taken
            }
            for item in work { item() }
            for work in timers.due(now: .now) { work() }
            while !beforeSleep.isEmpty {
                let round = beforeSleep
                beforeSleep.removeAll(keepingCapacity: true)
                for item in round { item() }
            }
        }
    }
}

/// A loop's timers: a binary min-heap of deadlines with lazy cancellation (a cancelled
/// timer is dropped from the table and skipped when it reaches the top). Most call
/// deadlines are cancelled long before they fire, so the heap is rebuilt from the live
/// timers when cancelled entries outnumber them.
public struct LoopTimers {
    public struct ID: Hashable, Sendable {
        let value: Int
    }

    private var heap: [(deadline: ContinuousClock.Instant, id: Int)] = []
    private var live: [Int: () -> Void] = [:]
    private var next = 0

    public init() {}

    /// Timers scheduled and not yet fired or cancelled.
    public var count: Int { live.count }

    public mutating func schedule(at deadline: ContinuousClock.Instant, _ work: @escaping () -> Void) -> ID {
        next += 1
        live[next] = work
        push((deadline, next))
        return ID(value: next)
    }

    public mutating func cancel(_ id: ID) {
        guard live.removeValue(forKey: id.value) != nil else { return }
        if heap.count > 1024 && heap.count > 2 * live.count {
            let kept = heap.filter { live[$0.id] != nil }
            heap = []
            heap.reserveCapacity(kept.count)
            for entry in kept { push(entry) }
        }
    }

    /// The work of every live timer whose deadline is at or before `now`, earliest first; removed.
    public mutating func due(now: ContinuousClock.Instant) -> [() -> Void] {
        var fired: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            pop()
            if let work = live.removeValue(forKey: top.id) { fired.append(work) }
        }
        return fired
    }

    /// epoll_wait's timeout: -1 without live timers, else milliseconds to the earliest (rounded up).
    public mutating func waitMilliseconds(now: ContinuousClock.Instant) -> Int32 {
        while let top = heap.first, live[top.id] == nil { pop() }
        guard let top = heap.first else { return -1 }
        guard top.deadline > now else { return 0 }
        let (seconds, attoseconds) = (top.deadline - now).components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(min(milliseconds, Int64(Int32.max)))
    }

    private mutating func push(_ entry: (deadline: ContinuousClock.Instant, id: Int)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
