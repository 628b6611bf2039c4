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
    private var thread: Thread?
    private let threadID = Mutex<pthread_t?>(nil)
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
            threadID.withLock { $0 = pthread_self() }
            run()
        }
        thread.name = name
        self.thread = thread
        thread.start()
    }

    public var inLoop: Bool {
        threadID.withLock { id in id.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    public func preconditionInLoop() {
        precondition(inLoop, "called off the event loop \(name)")
    }

    /// Runs `work` on the loop thread, soon.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        queue.withLock { $0.append(work) }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
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
        }
    }
}
