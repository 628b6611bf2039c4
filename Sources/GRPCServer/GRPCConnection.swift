import CLinux
import Glibc
import HTTP2
import RPCCore

/// One client connection: its socket, its HTTP/2 session and its gRPC calls.
///
/// `@unchecked Sendable`: every member is used on `loop` only; handler tasks reach the
/// connection through `loop.execute`, and each method checks it runs on the loop.
final class GRPCConnection: HTTP2ServerSessionDelegate, @unchecked Sendable {
    let fd: Int32
    let loop: EventLoop
    private let session = HTTP2ServerSession()
    private let router: Router
    private let peer: String
    private var output: [UInt8] = []
    private var outputOffset = 0
    private var writable = true
    private var closed = false
    private let onClose: (GRPCConnection) -> Void

    /// A call in progress.
    private final class Call {
        var headers: [(String, String)] = []
        var deframer: MessageDeframer
        var requests: AsyncThrowingStream<[UInt8], any Error>.Continuation?
        var task: Task<Void, Never>?
        /// Ends the call with DEADLINE_EXCEEDED; cancelled when the call ends first.
        var deadlineTimer: Task<Void, Never>?
        var responseStarted = false
        var finished = false
        init(maxMessageSize: Int) { deframer = MessageDeframer(maxMessageSize: maxMessageSize) }
        func first(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }
    private var calls: [Int32: Call] = [:]

    init(fd: Int32, loop: EventLoop, router: Router, peer: String, onClose: @escaping (GRPCConnection) -> Void) {
        self.fd = fd
        self.loop = loop
        self.router = router
        self.peer = peer
        self.onClose = onClose
        session.delegate = self
    }

    func start() {
        loop.preconditionInLoop()
        loop.register(fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue) { [self] events in handle(events) }
        flush()
    }

    private func handle(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 { flush() }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { readAvailable() }
    }

    private func readAvailable() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !closed {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                do {
                    try buffer.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                } catch {
                    // Bad preface or protocol error: send what nghttp2 queued (GOAWAY), then close.
                    flush()
                    close()
                    return
                }
                flush()
            } else if count == 0 {
                close()
                return
            } else {
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                if errno == EINTR { continue }
                close()
                return
            }
        }
    }

    /// Sends whatever the session has queued; closes when the session is done.
    func flush() {
        loop.preconditionInLoop()
        guard !closed else { return }
        do {
            try session.drainOutput(into: &output)
        } catch {
            close()
            return
        }
        while outputOffset < output.count {
            let sent = output.withUnsafeBytes { send(fd, $0.baseAddress! + outputOffset, output.count - outputOffset, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                outputOffset += sent
            } else if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                if writable {
                    writable = false
                    loop.modify(fd, events: EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue)
                }
                return
            } else if sent < 0 && errno == EINTR {
                continue
            } else {
                close()
                return
            }
        }
        output.removeAll(keepingCapacity: output.capacity <= 1 << 20)
        outputOffset = 0
        if !writable {
            writable = true
            loop.modify(fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue)
        }
        if !session.isAlive { close() }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.unregister(fd)
        CLinux.close(fd)
        for (_, call) in calls {
            call.deadlineTimer?.cancel()
            call.requests?.finish(throwing: RPCError(.cancelled, "the connection closed"))
            call.task?.cancel()
        }
        calls.removeAll()
        onClose(self)
    }

    // MARK: HTTP2ServerSessionDelegate

    func streamOpened(_ streamID: Int32) {
        calls[streamID] = Call(maxMessageSize: router.maxMessageSize)
    }

    func header(_ name: String, _ value: String, stream streamID: Int32) {
        calls[streamID]?.headers.append((name, value))
    }

    func headersComplete(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID] else { return }
        let path = call.first(":path") ?? ""
        guard call.first(":method") == "POST" else {
            session.submitHeadersOnly(streamID, [(":status", "405")])
            return finishLocally(streamID)
        }
        guard let contentType = call.first("content-type"), contentType.hasPrefix("application/grpc") else {
            session.submitHeadersOnly(streamID, [(":status", "415")])
            return finishLocally(streamID)
        }
        guard let handler = router.handler(for: path) else {
            return trailersOnly(streamID, .unimplemented, router.unknownMethodMessage(path))
        }
        var deadline: ContinuousClock.Instant?
        if let timeout = call.first("grpc-timeout") {
            guard let duration = GRPCWire.timeout(timeout) else {
                return trailersOnly(streamID, .invalidArgument, "malformed grpc-timeout header '\(timeout)'")
            }
            deadline = .now + duration
        }
        if let encoding = call.first("grpc-encoding"), encoding != "identity" {
            return trailersOnly(streamID, .unimplemented, "grpc-encoding '\(encoding)' is not supported")
        }
        var metadata = Metadata()
        for (name, value) in call.headers where !name.hasPrefix(":") && !Self.reservedHeaders.contains(name) {
            metadata.add(name, value)
        }
        let context = ServerContext(method: handler.method, metadata: metadata, deadline: deadline, peer: peer)
        let (stream, continuation) = AsyncThrowingStream<[UInt8], any Error>.makeStream()
        call.requests = continuation
        if endStream { continuation.finish() }
        let loop = self.loop
        let writer = ResponseWriter<[UInt8]> { [self] message in
            try Task.checkCancellation()
            loop.execute { [self] in sendMessage(streamID, message) }
        }
        let requests = RequestStream<[UInt8]> {
            var iterator = stream.makeAsyncIterator()
            return try await iterator.next()
        }
        call.task = Task { [self] in
            var code = StatusCode.ok
            var message = ""
            do {
                try await handler.handle(requests, writer, context)
            } catch let error as RPCError {
                code = error.code
                message = error.message
            } catch is CancellationError {
                code = .cancelled
                message = "the call was cancelled"
            } catch {
                code = .unknown
                message = "\(error)"
            }
            let finalCode = code
            let finalMessage = message
            loop.execute { [self] in finishCall(streamID, finalCode, finalMessage) }
        }
        if let deadline {
            call.deadlineTimer = Task { [self] in
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                loop.execute { [self] in
                    guard let call = calls[streamID], !call.finished else { return }
                    call.task?.cancel()
                    finishCall(streamID, .deadlineExceeded, "the deadline passed before the call finished")
                }
            }
        }
    }

    static let reservedHeaders: Set<String> = ["content-type", "te", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "user-agent"]

    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32) {
        guard let call = calls[streamID], !call.finished, let requests = call.requests else { return }
        do throws(MessageDeframer.Failure) {
            for message in try call.deframer.append(bytes) { requests.yield(message) }
        } catch {
            switch error {
            case .compressedWithoutEncoding:
                failCall(streamID, .internal, "a message has the compressed flag but the call has no grpc-encoding")
            case .tooLarge(let size):
                failCall(streamID, .resourceExhausted, "request message of \(size) bytes exceeds the limit of \(router.maxMessageSize) bytes")
            }
        }
    }

    func endStream(_ streamID: Int32) {
        guard let call = calls[streamID], !call.finished else { return }
        if call.deframer.hasPartialMessage {
            failCall(streamID, .internal, "the request ended inside a message")
        } else {
            call.requests?.finish()
        }
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        call.deadlineTimer?.cancel()
        if !call.finished {
            call.requests?.finish(throwing: RPCError(.cancelled, "the client reset the stream"))
            call.task?.cancel()
        }
    }

    // MARK: Calls

    private func responseHeaders() -> [(String, String)] {
        [(":status", "200"), ("content-type", "application/grpc")]
    }

    private func trailers(_ code: StatusCode, _ message: String) -> [(String, String)] {
        var trailers = [("grpc-status", String(code.rawValue))]
        if !message.isEmpty { trailers.append(("grpc-message", GRPCWire.percentEncode(message))) }
        return trailers
    }

    private func trailersOnly(_ streamID: Int32, _ code: StatusCode, _ message: String) {
        session.submitHeadersOnly(streamID, responseHeaders() + trailers(code, message))
        finishLocally(streamID)
    }

    private func finishLocally(_ streamID: Int32) {
        calls[streamID]?.finished = true
        calls[streamID]?.requests?.finish()
    }

    private func failCall(_ streamID: Int32, _ code: StatusCode, _ message: String) {
        guard let call = calls[streamID] else { return }
        call.task?.cancel()
        call.requests?.finish(throwing: RPCError(code, message))
        finishCall(streamID, code, message)
    }

    private func sendMessage(_ streamID: Int32, _ message: [UInt8]) {
        guard let call = calls[streamID], !call.finished else { return }
        if !call.responseStarted {
            call.responseStarted = true
            session.submitResponse(streamID, responseHeaders())
        }
        session.enqueue(streamID, bytes: GRPCWire.frame(message))
        flush()
    }

    private func finishCall(_ streamID: Int32, _ code: StatusCode, _ message: String) {
        guard let call = calls[streamID], !call.finished else { return }
        call.finished = true
        call.deadlineTimer?.cancel()
        call.requests?.finish()
        if call.responseStarted {
            session.finish(streamID, trailers: trailers(code, message))
        } else {
            session.submitHeadersOnly(streamID, responseHeaders() + trailers(code, message))
        }
        flush()
    }
}
