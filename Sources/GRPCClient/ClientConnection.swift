import GRPCTransport
import HTTP2
import RPCCore
import Synchronization

/// One HTTP/2 connection of a channel and its calls.
///
/// `@unchecked Sendable`: the session, the call table and every call's loop-side state are
/// used on `loop` only; `acceptsCalls` is atomic.
final class ClientConnection: HTTP2SessionDelegate, @unchecked Sendable {
    let loop: EventLoop
    private let io: ConnectionIO
    private let session: HTTP2Session
    private let configuration: ClientConfiguration
    private let scheme: String
    private let accepting = Atomic<Bool>(true)
    private var calls: [Int32: ClientCall] = [:]

    /// False once the connection closed or the server sent GOAWAY: new calls need a new one.
    var acceptsCalls: Bool { accepting.load(ordering: .relaxed) }

    private init(loop: EventLoop, stream: any ByteStream, configuration: ClientConfiguration) {
        self.loop = loop
        self.configuration = configuration
        scheme = configuration.tls == nil ? "http" : "https"
        session = HTTP2Session(server: false, settings: configuration.http2)
        io = ConnectionIO(loop: loop, stream: stream, session: session)
        session.delegate = self
        io.onClose = { [unowned self] reason in connectionClosed(reason) }
    }

    static func connect(host: String, port: UInt16, configuration: ClientConfiguration, loop: EventLoop) async throws -> ClientConnection {
        let fd = try await connectSocket(host: host, port: port, loop: loop, timeout: configuration.connectTimeout)
        let stream: any ByteStream
        if let tls = configuration.tls {
            do {
                stream = try TLSStream(fd: fd, context: tls, serverName: configuration.serverName ?? host)
            } catch {
                SocketStream(fd: fd).close()
                throw RPCError(.unavailable, "TLS setup failed: \(error)")
            }
        } else {
            stream = SocketStream(fd: fd)
        }
        let connection = ClientConnection(loop: loop, stream: stream, configuration: configuration)
        await withCheckedContinuation { (started: CheckedContinuation<Void, Never>) in
            loop.execute {
                connection.io.start()
                started.resume()
            }
        }
        return connection
    }

    func close() {
        accepting.store(false, ordering: .relaxed)
        loop.execute { [self] in io.close("the channel was closed") }
    }

    /// Opens a stream for `method`.
    func open(_ method: MethodDescriptor, options: CallOptions, authority: String) async throws -> ClientCall {
        var headers = [
            (":method", "POST"), (":scheme", scheme), (":path", method.path), (":authority", authority),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "ultracore-grpc-swift/0.3"),
            ("grpc-accept-encoding", GRPCWire.acceptEncoding),
        ]
        if options.compressRequests { headers.append(("grpc-encoding", "gzip")) }
        if let timeout = options.timeout { headers.append(("grpc-timeout", GRPCWire.timeoutHeader(timeout))) }
        headers += try GRPCWire.headers(from: options.metadata)
        if let token = configuration.bearerToken, options.metadata.first("authorization") == nil {
            headers.append(("authorization", "Bearer \(token)"))
        }
        let call = ClientCall(connection: self, options: options, maxMessageSize: configuration.maxMessageSize)
        let box = UncheckedBox(headers)
        try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, any Error>) in
            loop.execute { [self] in
                guard !io.isClosed, acceptsCalls else {
                    return opened.resume(throwing: RPCError(.unavailable, "the connection closed: \(io.closeReason)"))
                }
                do {
                    call.streamID = try session.submitRequest(box.value)
                } catch {
                    accepting.store(false, ordering: .relaxed)
                    return opened.resume(throwing: RPCError(.unavailable, "cannot open a stream: \(error)"))
                }
                calls[call.streamID] = call
                io.flush()
                opened.resume()
            }
        }
        if let timeout = options.timeout {
            call.deadlineTimer = Task { [self] in
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                loop.execute { [self] in
                    abort(call, RPCError(.deadlineExceeded, "the deadline of \(timeout) passed before the call finished"))
                }
            }
        }
        return call
    }

    // MARK: Called by calls (on the loop)

    func enqueue(_ call: ClientCall, _ framed: [UInt8]) {
        guard !call.finished else { return }
        session.enqueue(call.streamID, bytes: framed)
        io.flush()
    }

    func endRequest(_ call: ClientCall) {
        guard !call.finished else { return }
        session.endRequest(call.streamID)
        io.flush()
    }

    func messageRead(_ call: ClientCall, _ wireSize: Int) {
        call.window.release(wireSize)
        guard calls[call.streamID] === call else { return }
        session.consume(call.streamID, bytes: call.window.settle(ignoringHeld: call.finished))
        io.flush()
    }

    /// Ends a call from this side: RST_STREAM, then `status`.
    func abort(_ call: ClientCall, _ status: RPCError) {
        guard !call.finished else { return }
        if calls[call.streamID] === call { session.reset(call.streamID, errorCode: HTTP2ErrorCode.cancel) }
        finish(call, status, trailers: Metadata())
        io.flush()
    }

    private func finish(_ call: ClientCall, _ status: RPCError, trailers: Metadata) {
        guard !call.finished else { return }
        call.finished = true
        call.deadlineTimer?.cancel()
        call.initial.complete(status.code == .ok ? .success(Metadata()) : .failure(status))
        call.trailing.complete(.success(trailers))
        if status.code == .ok {
            call.inbound.finish()
        } else {
            call.inbound.finish(throwing: status, discardQueued: false)
        }
        call.gate.fail(status.code == .ok ? RPCError(.failedPrecondition, "the call has already ended with OK") : status)
    }

    private func connectionClosed(_ reason: String) {
        accepting.store(false, ordering: .relaxed)
        for (_, call) in calls { finish(call, RPCError(.unavailable, "the connection closed: \(reason)"), trailers: Metadata()) }
        calls.removeAll()
    }

    // MARK: HTTP2SessionDelegate

    func header(_ name: String, _ value: String, stream streamID: Int32) {
        calls[streamID]?.headerBlock.append((name, value))
    }

    /// The status a trailers block (or a trailers-only response) carries.
    private func status(_ headers: [(String, String)]) -> RPCError {
        let first = { (name: String) in headers.first { $0.0 == name }?.1 }
        guard let text = first("grpc-status") else {
            return RPCError(.internal, "the server ended the call without a grpc-status")
        }
        let code = Int32(text).flatMap(StatusCode.init(rawValue:)) ?? .unknown
        return RPCError(code, first("grpc-message").map(GRPCWire.percentDecode) ?? "", metadata: GRPCWire.metadata(from: headers))
    }

    /// gRPC's mapping of HTTP statuses (doc/http-grpc-status-mapping.md).
    private func httpStatus(_ status: Int) -> StatusCode {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }

    func headersComplete(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID], !call.finished else { return }
        let block = call.headerBlock
        call.headerBlock = []
        if call.gotHeaders {
            return finish(call, status(block), trailers: GRPCWire.metadata(from: block))
        }
        let httpCode = block.first { $0.0 == ":status" }.flatMap { Int($0.1) } ?? 0
        if (100..<200).contains(httpCode) { return }  // informational: the real headers follow
        call.gotHeaders = true
        guard httpCode == 200 else {
            return abort(call, RPCError(httpStatus(httpCode), "HTTP status \(httpCode) instead of a gRPC response"))
        }
        guard let contentType = block.first(where: { $0.0 == "content-type" })?.1, contentType.hasPrefix("application/grpc") else {
            return abort(call, RPCError(.unknown, "the response is not gRPC (content-type missing or not application/grpc)"))
        }
        if endStream {
            let final = status(block)
            if final.code == .ok { call.initial.complete(.success(GRPCWire.metadata(from: block))) }
            return finish(call, final, trailers: GRPCWire.metadata(from: block))
        }
        switch block.first(where: { $0.0 == "grpc-encoding" })?.1 {
        case nil, "identity": break
        case "gzip": call.deframer.gzip = true
        case let other?: return abort(call, RPCError(.internal, "the server uses grpc-encoding '\(other)', which this client does not speak"))
        }
        call.initial.complete(.success(GRPCWire.metadata(from: block)))
    }

    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32) {
        guard let call = calls[streamID] else {
            session.consume(streamID, bytes: bytes.count)
            return
        }
        call.window.receive(bytes.count)
        if !call.finished {
            do throws(MessageDeframer.Failure) {
                for (message, wireSize, compressed) in try call.deframer.append(bytes) {
                    call.window.hold(wireSize)
                    call.inbound.deliver(message, wireSize: wireSize, compressed: compressed)
                }
            } catch {
                abort(call, error.status(of: "response", limit: configuration.maxMessageSize))
            }
        }
        session.consume(streamID, bytes: call.window.settle(ignoringHeld: call.finished))
    }

    func endStream(_ streamID: Int32) {
        guard let call = calls[streamID], !call.finished else { return }
        finish(call, RPCError(.internal, "the server ended the stream without trailers"), trailers: Metadata())
    }

    func outboundSent(_ streamID: Int32, bytes: Int) {
        calls[streamID]?.gate.release(bytes)
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        session.consumeConnection(bytes: call.window.outstanding)
        let status: RPCError = switch errorCode {
        case HTTP2ErrorCode.refusedStream: RPCError(.unavailable, "the server refused the stream")
        case HTTP2ErrorCode.cancel: RPCError(.cancelled, "the server cancelled the stream")
        case HTTP2ErrorCode.enhanceYourCalm: RPCError(.resourceExhausted, "the server asked to slow down (ENHANCE_YOUR_CALM)")
        default: RPCError(.internal, "the stream closed before the call finished (HTTP/2 error \(errorCode))")
        }
        finish(call, status, trailers: Metadata())
    }

    func goAwayReceived(lastStreamID: Int32, errorCode: UInt32) {
        accepting.store(false, ordering: .relaxed)
    }
}

/// One client call: the ``ClientStream`` the typed calls use.
///
/// `@unchecked Sendable`: the fields marked "loop" are used on the connection's loop
/// only; the rest are thread-safe.
final class ClientCall: ClientStream, @unchecked Sendable {
    let connection: ClientConnection
    let options: CallOptions
    let inbound: InboundMessages
    let gate = OutboundGate()
    let initial = OneShot<Metadata>()
    let trailing = OneShot<Metadata>()
    private let received = RequestInfo()
    var lastResponseWasCompressed: Bool { received.lastMessageWasCompressed }
    // loop
    var streamID: Int32 = 0
    var deframer: MessageDeframer
    var window = WindowAccount()
    var headerBlock: [(String, String)] = []
    var gotHeaders = false
    var finished = false
    var deadlineTimer: Task<Void, Never>?

    init(connection: ClientConnection, options: CallOptions, maxMessageSize: Int) {
        self.connection = connection
        self.options = options
        deframer = MessageDeframer(maxMessageSize: maxMessageSize)
        let reported = ReadReport()
        inbound = InboundMessages(info: received) { size in reported.call?.reportRead(size) }
        reported.call = self
    }

    private func reportRead(_ size: Int) {
        connection.loop.execute { [self] in connection.messageRead(self, size) }
    }

    func send(_ message: [UInt8], compress: Bool?) async throws {
        let framed = GRPCWire.frame(message, compress: compress ?? options.compressRequests)
        try gate.add(framed.count)
        connection.loop.execute { [self] in connection.enqueue(self, framed) }
        try await gate.waitForRoom()
    }

    func closeSend() async {
        connection.loop.execute { [self] in connection.endRequest(self) }
    }

    func initialMetadata() async throws -> Metadata { try await initial.value() }

    func receive() async throws -> [UInt8]? { try await inbound.next() }

    func trailingMetadata() async -> Metadata { (try? await trailing.value()) ?? Metadata() }

    func cancel() {
        connection.loop.execute { [self] in connection.abort(self, RPCError(.cancelled, "the client cancelled the call")) }
    }
}

/// Lets the inbound queue, created before its call finished initializing, reach it.
private final class ReadReport: @unchecked Sendable {
    weak var call: ClientCall?
}
