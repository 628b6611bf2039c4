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
        let call = ClientCall(
            connection: self, options: options, maxMessageSize: configuration.maxMessageSize,
            maxHeaderListSize: Int(configuration.http2.maxHeaderListSize))
        // Not on the loop yet: no one else knows the call.
        let headers = try call.stream.sendRequestHeaders(.init(
            scheme: scheme, authority: authority, path: method.path, timeout: options.timeout,
            compress: options.compressRequests, metadata: options.metadata, bearerToken: configuration.bearerToken))
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
                if let timeout = options.timeout {
                    call.deadlineTimer = loop.schedule(at: .now + timeout) { [self] in
                        call.deadlineTimer = nil
                        abort(call, RPCError(.deadlineExceeded, "the deadline of \(timeout) passed before the call finished"))
                    }
                }
                io.flushSoon()
                opened.resume()
            }
        }
        return call
    }

    // MARK: Called by calls (on the loop)

    func enqueue(_ call: ClientCall, _ framed: [UInt8]) {
        guard call.stream.canSendRequestMessage else { return }
        session.enqueue(call.streamID, bytes: framed)
        io.flushSoon()
    }

    func endRequest(_ call: ClientCall) {
        guard call.stream.closeRequest() else { return }
        session.endRequest(call.streamID)
        io.flushSoon()
    }

    func messageRead(_ call: ClientCall, _ wireSize: Int) {
        call.window.release(wireSize)
        guard calls[call.streamID] === call else { return }
        session.consume(call.streamID, bytes: call.window.settle(ignoringHeld: call.stream.isFinished))
        io.flushSoon()
    }

    /// Ends a call from this side: RST_STREAM, then `status`.
    func abort(_ call: ClientCall, _ status: RPCError) {
        guard call.stream.abandon() else { return }
        reset(call, status)
    }

    /// RST_STREAM for a call whose state machine has ended it, then `status`.
    private func reset(_ call: ClientCall, _ status: RPCError) {
        if calls[call.streamID] === call { session.reset(call.streamID, errorCode: HTTP2ErrorCode.cancel) }
        finish(call, status, trailers: Metadata())
        io.flushSoon()
    }

    /// Reports the call's outcome to its reader and writer (once).
    private func finish(_ call: ClientCall, _ status: RPCError, trailers: Metadata) {
        guard !call.reported else { return }
        call.reported = true
        if let timer = call.deadlineTimer { loop.cancel(timer) }
        call.deadlineTimer = nil
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
        for (_, call) in calls where call.stream.abandon() {
            finish(call, RPCError(.unavailable, "the connection closed: \(reason)"), trailers: Metadata())
        }
        calls.removeAll()
    }

    // MARK: HTTP2SessionDelegate

    func header(_ name: String, _ value: String, stream streamID: Int32) {
        calls[streamID]?.stream.receiveHeader(name, value)
    }

    func headersComplete(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID] else { return }
        switch call.stream.receiveResponseHeaders(endStream: endStream) {
        case .none, .informational: break
        case .initialMetadata(let metadata): call.initial.complete(.success(metadata))
        case .finished(let status, let trailers, let initialMetadata):
            if let initialMetadata { call.initial.complete(.success(initialMetadata)) }
            finish(call, status, trailers: trailers)
        case .abort(let status): reset(call, status)
        }
    }

    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32) {
        guard let call = calls[streamID] else {
            session.consume(streamID, bytes: bytes.count)
            return
        }
        call.window.receive(bytes.count)
        switch call.stream.receiveData(bytes) {
        case .none: break
        case .messages(let messages):
            for (message, wireSize, compressed) in messages {
                call.window.hold(wireSize)
                call.inbound.deliver(message, wireSize: wireSize, compressed: compressed)
            }
        case .fail(let status):
            _ = call.stream.abandon()
            reset(call, status)
        }
        session.consume(streamID, bytes: call.window.settle(ignoringHeld: call.stream.isFinished))
    }

    func endStream(_ streamID: Int32) {
        guard let call = calls[streamID], let status = call.stream.receiveEndOfResponse() else { return }
        finish(call, status, trailers: Metadata())
    }

    func outboundSent(_ streamID: Int32, bytes: Int) {
        calls[streamID]?.gate.release(bytes)
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        session.consumeConnection(bytes: call.window.outstanding)
        if let status = call.stream.streamClosed(errorCode: errorCode) { finish(call, status, trailers: Metadata()) }
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
    var stream: GRPCStreamStateMachine
    var window = WindowAccount()
    /// The outcome went to the reader and writer.
    var reported = false
    var deadlineTimer: LoopTimers.ID?

    init(connection: ClientConnection, options: CallOptions, maxMessageSize: Int, maxHeaderListSize: Int) {
        self.connection = connection
        self.options = options
        stream = GRPCStreamStateMachine(role: .client, maxMessageSize: maxMessageSize, maxHeaderListSize: maxHeaderListSize)
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
