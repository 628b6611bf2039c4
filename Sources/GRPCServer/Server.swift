import CLinux
import Glibc
import Foundation
import RPCCore
import Synchronization

/// Maps `:path` to handlers.
struct Router: Sendable {
    let handlers: [String: ServerMethodHandler]
    let services: Set<String>
    let maxMessageSize: Int

    func handler(for path: String) -> ServerMethodHandler? { handlers[path] }

    func unknownMethodMessage(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 2 else { return "malformed method path '\(path)'" }
        if services.contains(String(parts[0])) { return "unknown method \(parts[1]) of service \(parts[0])" }
        return "unknown service \(parts[0])"
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
    /// Largest request message accepted, bytes; larger is RESOURCE_EXHAUSTED.
    public var maxMessageSize = 4 * 1024 * 1024

    public init() {}
}

/// A gRPC server over HTTP/2 cleartext (prior knowledge) on nghttp2 and epoll.
public final class GRPCServer: Sendable {
    private let loops: [EventLoop]
    private let listenFD: Int32
    private let router: Router
    /// The port actually bound.
    public let port: UInt16
    private let connections = Mutex<[ObjectIdentifier: GRPCConnection]>([:])
    private let nextLoop = Atomic<Int>(0)

    public init(configuration: ServerConfiguration, services: [any RPCService]) throws {
        var handlers: [String: ServerMethodHandler] = [:]
        var names = Set<String>()
        for service in services {
            for handler in service.methodHandlers { handlers[handler.method.path] = handler }
            names.insert(service.serviceDescriptor.name)
        }
        router = Router(handlers: handlers, services: names, maxMessageSize: configuration.maxMessageSize)

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        guard inet_pton(AF_INET, configuration.host, &address.sin_addr) == 1 else {
            CLinux.close(fd)
            throw ServerError("not an IPv4 address: \(configuration.host)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1024) == 0 else {
            let code = errno
            CLinux.close(fd)
            throw ServerError("cannot listen on \(configuration.host):\(configuration.port): errno \(code)")
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
    }

    private func acceptAll() {
        while true {
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(listenFD, $0, &length)
                }
            }
            if fd < 0 { return }  // EAGAIN, or a transient error: the next readiness retries
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
            let host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let peer = "\(host):\(UInt16(bigEndian: address.sin_port))"
            let loop = loops[nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
            loop.execute { [self] in
                let connection = GRPCConnection(fd: fd, loop: loop, router: router, peer: peer) { [self] closed in
                    _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(closed)) }
                }
                connections.withLock { $0[ObjectIdentifier(connection)] = connection }
                connection.start()
            }
        }
    }

    /// Number of open connections.
    public var connectionCount: Int { connections.withLock { $0.count } }
}

public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
