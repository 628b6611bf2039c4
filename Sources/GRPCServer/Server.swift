import CLinux
import Foundation
import GRPCTransport
import Glibc
import HTTP2
import RPCCore
import Synchronization

/// Maps `:path` to handlers.
struct Router: Sendable {
    let handlers: [String: ServerMethodHandler]
    let services: Set<String>

    func handler(for path: String) -> ServerMethodHandler? { handlers[path] }

    func unknownMethodMessage(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return "malformed method path '\(path)'" }
        if services.contains(String(parts[1])) { return "unknown method \(parts[2]) of service \(parts[1])" }
        return "unknown service \(parts[1])"
    }
}

/// Server settings; every default is what `holdingsd` uses.
public struct ServerConfiguration: Sendable {
    /// Address to listen on (IPv4 dotted quad).
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free one (see ``GRPCServer/port``).
    public var port: UInt16 = 50051
    /// Event loops (threads); default one per core.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Largest request message accepted (after inflating), bytes; larger is RESOURCE_EXHAUSTED.
    public var maxMessageSize = 4 * 1024 * 1024
    /// Largest request header block (names + values), bytes; larger is RESOURCE_EXHAUSTED.
    public var maxHeaderListSize = 16 * 1024
    /// TLS with ALPN h2; nil serves HTTP/2 cleartext with prior knowledge.
    public var tls: TLSContext?
    /// HTTP/2 settings (concurrent streams, windows, reset rate limit).
    public var http2 = HTTP2Settings()
    /// Time and count limits of connections (handshake, idle, keepalive, slow peers).
    public var limits = ConnectionLimits()
    /// Authenticates and authorizes each call before its handler runs; nil admits all.
    public var callGuard: (any CallGuard)?
    /// Told when each routed call starts and ends (metrics); nil observes nothing.
    public var callObserver: (any CallObserver)?
    /// Where the server reports connections it closed for a limit.
    public var log: (@Sendable (String) -> Void)?

    public init() {}
}

/// A gRPC server over HTTP/2 (cleartext with prior knowledge, or TLS with ALPN h2) on
/// nghttp2 and epoll loops. Handlers run as Swift tasks, never on a loop.
public final class GRPCServer: Sendable {
    private let loops: [EventLoop]
    private let listenFD: Int32
    private let router: Router
    private let configuration: ServerConfiguration
    /// The port actually bound.
    public let port: UInt16
    private let connections = Mutex<[ObjectIdentifier: ServerConnection]>([:])
    private let nextLoop = Atomic<Int>(0)
    private let accepting = Atomic<Bool>(true)
    /// Open connections per source address (for the per-address limit).
    private let perAddress = Mutex<[String: Int]>([:])
    private let openCount = Atomic<Int>(0)
    private let refusedCount = Atomic<Int>(0)
    private let sweeper = Mutex<Task<Void, Never>?>(nil)

    public init(configuration: ServerConfiguration, services: [any RPCService]) throws {
        var handlers: [String: ServerMethodHandler] = [:]
        var names = Set<String>()
        for service in services {
            for handler in service.methodHandlers { handlers[handler.method.path] = handler }
            names.insert(service.serviceDescriptor.name)
        }
        router = Router(handlers: handlers, services: names)
        self.configuration = configuration

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.host, &address.sin_addr) == 1 else {
            Glibc.close(fd)
            throw ServerError("not an IPv4 address: \(configuration.host)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4096) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ServerError("cannot listen on \(configuration.host):\(configuration.port): \(String(cString: strerror(code)))")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: actual.sin_port)
        listenFD = fd
        loops = (0..<max(1, configuration.threads)).map { EventLoop(name: "grpc-loop-\($0)") }
    }

    /// Starts the loops and accepting connections.
    public func start() {
        loops.forEach { $0.start() }
        let acceptLoop = loops[0]
        acceptLoop.execute { [self] in
            acceptLoop.register(listenFD, events: EPOLLIN.rawValue) { [self] _ in acceptAll() }
        }
        let interval = configuration.limits.checkInterval
        sweeper.withLock {
            $0 = Task { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    let now = ContinuousClock.now
                    for connection in connections.withLock({ Array($0.values) }) {
                        connection.loop.execute { connection.checkLimits(now) }
                    }
                }
            }
        }
    }

    /// Connections closed at accept because a limit was reached.
    public var refusedConnections: Int { refusedCount.load(ordering: .relaxed) }

    /// Takes a place for a connection from `host`; false when a limit is reached.
    private func admitConnection(from host: String) -> Bool {
        let limits = configuration.limits
        guard openCount.load(ordering: .relaxed) < limits.maxConnections else { return false }
        let admitted = perAddress.withLock { counts -> Bool in
            guard counts[host, default: 0] < limits.maxConnectionsPerAddress else { return false }
            counts[host, default: 0] += 1
            return true
        }
        if admitted { openCount.add(1, ordering: .relaxed) }
        return admitted
    }

    private func releaseConnection(from host: String) {
        openCount.subtract(1, ordering: .relaxed)
        perAddress.withLock { counts in
            let left = counts[host, default: 1] - 1
            counts[host] = left > 0 ? left : nil
        }
    }

    private func acceptAll() {
        while accepting.load(ordering: .relaxed) {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            if fd < 0 {
                // EAGAIN: all taken. EMFILE/ENFILE: out of descriptors; the connection waits
                // in the backlog and the next readiness retries. Either way, stop for now.
                return
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
            let host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let peer = "\(host):\(UInt16(bigEndian: address.sin_port))"
            guard admitConnection(from: host) else {
                if refusedCount.add(1, ordering: .relaxed).oldValue % 1000 == 0 {
                    configuration.log?("refusing connections at the limit (\(configuration.limits.maxConnections) in all, \(configuration.limits.maxConnectionsPerAddress) per address); latest from \(peer)")
                }
                Glibc.close(fd)
                continue
            }
            let stream: any ByteStream
            if let tls = configuration.tls {
                guard let tlsStream = try? TLSStream(fd: fd, context: tls) else {
                    releaseConnection(from: host)
                    Glibc.close(fd)
                    continue
                }
                stream = tlsStream
            } else {
                stream = SocketStream(fd: fd)
            }
            let loop = loops[nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
            let box = UncheckedBox(stream)
            loop.execute { [self] in
                let connection = ServerConnection(
                    stream: box.value, loop: loop, router: router, configuration: configuration, peer: peer
                ) { [self] closed in
                    _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(closed)) }
                    releaseConnection(from: host)
                }
                connections.withLock { $0[ObjectIdentifier(connection)] = connection }
                connection.start()
            }
        }
    }

    /// Number of open connections.
    public var connectionCount: Int { connections.withLock { $0.count } }

    /// Graceful shutdown: stops accepting, tells every client (GOAWAY: a shutdown notice,
    /// then after a round trip the last stream processed), lets the calls in flight finish
    /// for up to `grace`, then cancels what is left and closes every connection.
    public func shutdown(grace: Duration) async {
        guard accepting.exchange(false, ordering: .relaxed) else { return }
        sweeper.withLock { $0?.cancel() }
        let acceptLoop = loops[0]
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            acceptLoop.execute { [self] in
                acceptLoop.unregister(listenFD)
                Glibc.close(listenFD)
                done.resume()
            }
        }
        let open = connections.withLock { Array($0.values) }
        for connection in open { connection.loop.execute { connection.sendShutdownNotice() } }
        try? await Task.sleep(for: .milliseconds(100))  // about one round trip on a LAN
        for connection in open { connection.loop.execute { connection.sendFinalGoAway() } }
        let deadline = ContinuousClock.now + grace
        while connectionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in connections.withLock({ Array($0.values) }) {
            connection.loop.execute { connection.closeNow("the server shut down") }
        }
        while connectionCount > 0 { try? await Task.sleep(for: .milliseconds(5)) }
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Calls from inside the process

/// How a call made through ``LocalCalls`` ended.
public struct LocalCallOutcome: Sendable {
    /// OK, or the status the call failed with.
    public var status: RPCError
    /// The metadata the handler set for the response headers and trailers.
    public var initialMetadata: Metadata
    public var trailingMetadata: Metadata
}

/// Runs the server's handlers for callers that are not HTTP/2 gRPC peers (the REST and
/// Connect gateway): the same routing, call guard (authentication, authorization, audit),
/// principal, observer (metrics) and deadline as a call from the wire.
public struct LocalCalls: Sendable {
    fileprivate let router: Router
    fileprivate let configuration: ServerConfiguration

    /// The method served at `path` (`/package.Service/Method`), or nil.
    public func method(at path: String) -> MethodDescriptor? { router.handler(for: path)?.method }

    /// Largest request message the server accepts, bytes.
    public var maxMessageSize: Int { configuration.maxMessageSize }

    /// Calls the method at `path` with one request message; each response message is given
    /// to `onMessage` (a unary method gives one). Never throws: the outcome carries the status.
    public func call(
        path: String, metadata: Metadata, peer: String, timeout: Duration?, request: [UInt8],
        onMessage: @escaping @Sendable ([UInt8]) async throws -> Void
    ) async -> LocalCallOutcome {
        guard let handler = router.handler(for: path) else {
            return LocalCallOutcome(status: RPCError(.unimplemented, router.unknownMethodMessage(path)), initialMetadata: Metadata(), trailingMetadata: Metadata())
        }
        let response = ResponseOptions()
        let context = ServerContext(
            method: handler.method, metadata: metadata, deadline: timeout.map { ContinuousClock.now + $0 }, peer: peer,
            response: response, request: RequestInfo())
        let startedAt = ContinuousClock.now
        configuration.callObserver?.started(handler.method)
        let maxMessageSize = configuration.maxMessageSize
        let delivered = Mutex(false)
        let requests = RequestStream<[UInt8]> {
            delivered.withLock { sent in
                if sent { return nil }
                sent = true
                return request
            }
        }
        let writer = ResponseWriter<[UInt8]> { message, _ in
            try Task.checkCancellation()
            try await onMessage(message)
        }
        let status = await configuration.runCall(context, startedAt: startedAt) { admitted in
            guard request.count <= maxMessageSize else {
                throw RPCError(.resourceExhausted, "the request message is \(request.count) bytes, more than the \(maxMessageSize) this server accepts")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await handler.handle(requests, writer, admitted) }
                if let timeout {
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        throw RPCError(.deadlineExceeded, "the deadline passed before the call finished")
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
        var trailing = response.trailingMetadata
        for entry in status.metadata.entries {
            switch entry.value {
            case .string(let text): trailing.add(entry.key, text)
            case .binary(let bytes): trailing.add(entry.key, binary: bytes)
            }
        }
        return LocalCallOutcome(status: status, initialMetadata: response.initialMetadata, trailingMetadata: trailing)
    }
}

extension ServerConfiguration {
    /// Runs a routed call: the call guard admits it (authentication, authorization), `run`
    /// runs the handler as the admitted principal, and the guard (audit) and the observer
    /// (metrics) hear how it ended. Returns the status, OK included.
    func runCall(_ context: ServerContext, startedAt: ContinuousClock.Instant,
                 _ run: @Sendable (ServerContext) async throws -> Void) async -> RPCError {
        var status = RPCError(.ok, "")
        var context = context
        do {
            if let callGuard { context.principal = try await callGuard.admit(context) }
            let admitted = context
            let scope = CallScope(method: admitted.method.path, principal: admitted.principal, audit: admitted.audit)
            try await CallScope.$current.withValue(scope) { try await run(admitted) }
        } catch let error as RPCError {
            status = error
        } catch is CancellationError {
            status = RPCError(.cancelled, "the call was cancelled")
        } catch {
            status = RPCError(.unknown, "\(error)")
        }
        callGuard?.finished(context, status: status)
        callObserver?.finished(context.method, status: status.code, duration: ContinuousClock.now - startedAt)
        return status
    }
}

extension GRPCServer {
    /// Calls into this server's handlers from the same process.
    public var localCalls: LocalCalls { LocalCalls(router: router, configuration: configuration) }
}
