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
            let count = epoll_wait(epoll, &events, Int32(events.count), -1)
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
            while !beforeSleep.isEmpty {
                let round = beforeSleep
                beforeSleep.removeAll(keepingCapacity: true)
                for item in round { item() }
            }
        }
    }
}
