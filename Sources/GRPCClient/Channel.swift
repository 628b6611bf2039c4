import CLinux
import Foundation
import GRPCTransport
import Glibc
import HTTP2
import RPCCore
import Synchronization

/// Client settings.
public struct ClientConfiguration: Sendable {
    /// TLS with ALPN h2; nil speaks HTTP/2 cleartext with prior knowledge.
    public var tls: TLSContext?
    /// Name for SNI and certificate verification (default: the host).
    public var serverName: String?
    /// Sent as `authorization: Bearer <token>` on every call that sets no authorization
    /// metadata of its own (holdingsd's access tokens). A client certificate for mutual
    /// TLS goes in `tls` (``TLSContext/init(trustRootsFile:verifyPeer:certificateChainFile:privateKeyFile:)``).
    public var bearerToken: String?
    /// Largest response message accepted (after inflating), bytes.
    public var maxMessageSize = 4 * 1024 * 1024
    /// How long a connection attempt may take.
    public var connectTimeout: Duration = .seconds(10)
    public var http2 = HTTP2Settings()

    public init() {}
}

/// The event loops client connections run on, shared by every channel of the process.
enum ClientLoops {
    static let loops: [EventLoop] = (0..<max(1, ProcessInfo.processInfo.activeProcessorCount)).map { index in
        let loop = EventLoop(name: "grpc-client-\(index)")
        loop.start()
        return loop
    }
    static let next = Atomic<Int>(0)
    static func pick() -> EventLoop { loops[next.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count] }
}

/// A channel to one server: one HTTP/2 connection, opened on the first call, shared by
/// every call, and opened again after it closes or the server sent GOAWAY. Calls fail
/// with UNAVAILABLE when the server cannot be reached.
public final class GRPCChannel: ClientTransport, Sendable {
    public let host: String
    public let port: UInt16
    private let configuration: ClientConfiguration
    private let loop: EventLoop
    private let current = Mutex<ClientConnection?>(nil)
    private let isShutDown = Atomic<Bool>(false)

    public init(host: String, port: UInt16, configuration: ClientConfiguration = ClientConfiguration()) {
        self.host = host
        self.port = port
        self.configuration = configuration
        loop = ClientLoops.pick()
    }

    /// "host:port"
    public convenience init(target: String, configuration: ClientConfiguration = ClientConfiguration()) throws {
        guard let colon = target.lastIndex(of: ":"), let port = UInt16(target[target.index(after: colon)...]) else {
            throw RPCError(.invalidArgument, "target '\(target)' is not host:port")
        }
        self.init(host: String(target[..<colon]), port: port, configuration: configuration)
    }

    /// The connection to use for a new call.
    private func connection() async throws -> ClientConnection {
        if isShutDown.load(ordering: .relaxed) { throw RPCError(.unavailable, "the channel is closed") }
        if let existing = current.withLock({ $0 }), existing.acceptsCalls { return existing }
        let fresh = try await ClientConnection.connect(host: host, port: port, configuration: configuration, loop: loop)
        let chosen: ClientConnection = current.withLock { slot in
            if let existing = slot, existing.acceptsCalls { return existing }
            slot = fresh
            return fresh
        }
        if chosen !== fresh { fresh.close() }
        return chosen
    }

    public func openStream(_ method: MethodDescriptor, options: CallOptions) async throws -> any ClientStream {
        let connection = try await connection()
        return try await connection.open(method, options: options, authority: "\(host):\(port)")
    }

    /// Closes the connection; calls in flight end with UNAVAILABLE.
    public func close() {
        isShutDown.store(true, ordering: .relaxed)
        current.withLock { $0 }?.close()
    }
}

/// Resolves and connects without blocking an event loop (name resolution runs on the
/// calling task's thread; the TCP handshake is awaited through epoll).
func connectSocket(host: String, port: UInt16, loop: EventLoop, timeout: Duration) async throws -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, String(port), &hints, &result)
    guard status == 0, let first = result else {
        throw RPCError(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
    }
    defer { freeaddrinfo(result) }
    var lastError = "no address"
    var entry: UnsafeMutablePointer<addrinfo>? = first
    while let info = entry {
        entry = info.pointee.ai_next
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { continue }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
        guard errno == EINPROGRESS else {
            lastError = String(cString: strerror(errno))
            Glibc.close(fd)
            continue
        }
        let outcome: Int32 = await withCheckedContinuation { continuation in
            let done = Atomic<Bool>(false)
            let finish: @Sendable (Int32) -> Void = { code in
                guard !done.exchange(true, ordering: .relaxed) else { return }
                loop.execute {
                    loop.unregister(fd)  // before the descriptor can be closed and reused
                    continuation.resume(returning: code)
                }
            }
            loop.execute {
                loop.register(fd, events: EPOLLOUT.rawValue) { _ in
                    var code: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                    finish(code)
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                finish(ETIMEDOUT)
            }
        }
        if outcome == 0 { return fd }
        lastError = String(cString: strerror(outcome))
        Glibc.close(fd)
    }
    throw RPCError(.unavailable, "cannot connect to \(host):\(port): \(lastError)")
}

extension ClientConfiguration {
    /// Credentials of a holdingsd caller: a bearer token read from `tokenFile` (else the
    /// environment's HOLDINGS_TOKEN), and TLS trusting `caFile`, presenting the client
    /// certificate in `certificateFile`/`keyFile` when given (mutual TLS).
    public mutating func useCredentials(tokenFile: String?, caFile: String?, certificateFile: String?, keyFile: String?) throws {
        if let tokenFile {
            bearerToken = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let token = ProcessInfo.processInfo.environment["HOLDINGS_TOKEN"], !token.isEmpty {
            bearerToken = token
        }
        if let caFile {
            tls = try TLSContext(trustRootsFile: caFile, certificateChainFile: certificateFile, privateKeyFile: keyFile)
        } else if certificateFile != nil {
            throw RPCError(.invalidArgument, "a client certificate needs TLS: give the CA file too")
        }
    }
}
