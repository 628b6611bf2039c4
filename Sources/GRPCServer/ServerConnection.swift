import GRPCTransport
import HTTP2
import RPCCore

/// One client connection: its HTTP/2 session and its gRPC calls.
///
/// `@unchecked Sendable`: every member is used on `loop` only; handler tasks reach the
/// connection through `loop.execute`.
final class ServerConnection: HTTP2SessionDelegate, @unchecked Sendable {
    let loop: EventLoop
    private let io: ConnectionIO
    private let session: HTTP2Session
    private let router: Router
    private let configuration: ServerConfiguration
    private let peer: String
    private var onClose: ((ServerConnection) -> Void)?

    /// A call in progress.
    private final class Call {
        var headers: [(String, String)] = []
        var headerBytes = 0
        var deframer: MessageDeframer
        var inbound: InboundMessages?
        let gate = OutboundGate()
        var task: Task<Void, Never>?
        /// Ends the call with DEADLINE_EXCEEDED; cancelled when the call ends first.
        var deadlineTimer: Task<Void, Never>?
        let response = ResponseOptions()
        var responseStarted = false
        var finished = false
        /// The client accepts gzip responses.
        var clientAcceptsGzip = false
        var window = WindowAccount()
        /// When the stream's HEADERS began (the header block must finish in time).
        let openedAt: ContinuousClock.Instant
        /// When the request message now arriving began; nil between messages.
        var partialSince: ContinuousClock.Instant?
        init(maxMessageSize: Int, openedAt: ContinuousClock.Instant) {
            deframer = MessageDeframer(maxMessageSize: maxMessageSize)
            self.openedAt = openedAt
        }
        func first(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }
    private var calls: [Int32: Call] = [:]

    // Time limits (see ConnectionLimits), checked by `checkLimits` on the loop.
    private let createdAt = ContinuousClock.now
    private var progress = ReceiveProgress()
    private var lastReceivedAt = ContinuousClock.now
    /// Since when no call has been open.
    private var idleSince = ContinuousClock.now
    /// A keepalive PING in flight: when it went out and the frame count then.
    private var pingSent: (at: ContinuousClock.Instant, frames: Int)?
    /// The client certificate, read once from the TLS session after the handshake.
    private lazy var peerCertificate: PeerCertificate? = io.stream.peerCertificate

    init(
        stream: any ByteStream, loop: EventLoop, router: Router, configuration: ServerConfiguration, peer: String,
        onClose: @escaping (ServerConnection) -> Void
    ) {
        self.loop = loop
        self.router = router
        self.configuration = configuration
        self.peer = peer
        self.onClose = onClose
        session = HTTP2Session(server: true, settings: configuration.http2)
        io = ConnectionIO(loop: loop, stream: stream, session: session)
        session.delegate = self
        io.onClose = { [unowned self] reason in connectionClosed(reason) }
        io.onReceive = { [unowned self] bytes in
            let now = ContinuousClock.now
            lastReceivedAt = now
            progress.receive(bytes, at: now)
        }
    }

    /// Closes the connection when it broke a time limit: the handshake, an unfinished
    /// frame, header block or message arriving too slowly, idleness, an unanswered PING.
    func checkLimits(_ now: ContinuousClock.Instant) {
        guard !io.isClosed else { return }
        let limits = configuration.limits
        if !progress.handshakeDone && now - createdAt > limits.handshakeTimeout {
            return closeForLimit("no TLS handshake, HTTP/2 preface and SETTINGS within \(limits.handshakeTimeout)", calm: true)
        }
        if let since = progress.unfinishedSince, now - since > limits.allowance(forBytes: progress.unfinishedSize) {
            return closeForLimit("a frame of \(progress.unfinishedSize) bytes arrived slower than \(limits.minReceiveRate) bytes/s", calm: true)
        }
        for (_, call) in calls where !call.finished {
            if call.inbound == nil && now - call.openedAt > limits.allowance(forBytes: configuration.maxHeaderListSize) {
                return closeForLimit("a request header block arrived slower than \(limits.minReceiveRate) bytes/s", calm: true)
            }
            guard call.deframer.hasPartialMessage else {
                call.partialSince = nil
                continue
            }
            guard let since = call.partialSince else {
                call.partialSince = now
                continue
            }
            let size = call.deframer.partialMessageWireSize
            if now - since > limits.allowance(forBytes: size) {
                return closeForLimit("a request message of \(size) bytes arrived slower than \(limits.minReceiveRate) bytes/s", calm: true)
            }
        }
        if calls.isEmpty && progress.handshakeDone && now - idleSince > limits.idleTimeout {
            return closeForLimit("idle for \(limits.idleTimeout) without a call", calm: false)
        }
        if let ping = pingSent {
            if progress.framesCompleted > ping.frames {
                pingSent = nil
            } else if now - ping.at > limits.keepaliveTimeout {
                return closeForLimit("keepalive PING unanswered for \(limits.keepaliveTimeout)", calm: false)
            }
        } else if progress.handshakeDone && now - lastReceivedAt > limits.keepaliveInterval {
            pingSent = (now, progress.framesCompleted)
            session.submitPing()
            io.flush()
        }
    }

    /// GOAWAY (ENHANCE_YOUR_CALM for a slow or silent peer, NO_ERROR for idleness), then close.
    private func closeForLimit(_ reason: String, calm: Bool) {
        session.submitGoAway(errorCode: calm ? 0xb : HTTP2ErrorCode.noError)
        io.flush()
        configuration.log?("closing connection from \(peer): \(reason)")
        io.close(reason)
    }

    func start() {
        io.start()
    }

    func sendShutdownNotice() {
        guard !io.isClosed else { return }
        session.submitShutdownNotice()
        io.flush()
    }

    func sendFinalGoAway() {
        guard !io.isClosed else { return }
        session.submitGoAway()
        io.flush()
    }

    func closeNow(_ reason: String) {
        io.close(reason)
    }

    private func connectionClosed(_ reason: String) {
        for (_, call) in calls { abandon(call, RPCError(.cancelled, "the connection closed: \(reason)")) }
        calls.removeAll()
        onClose?(self)
        onClose = nil
    }

    /// Stops a call's handler: its reads and writes fail with `error`.
    private func abandon(_ call: Call, _ error: RPCError) {
        call.deadlineTimer?.cancel()
        call.inbound?.finish(throwing: error)
        call.gate.fail(error)
        call.task?.cancel()
    }

    // MARK: HTTP2SessionDelegate

    func streamOpened(_ streamID: Int32) {
        calls[streamID] = Call(maxMessageSize: configuration.maxMessageSize, openedAt: .now)
    }

    func header(_ name: String, _ value: String, stream streamID: Int32) {
        guard let call = calls[streamID], call.inbound == nil, !call.finished else { return }
        call.headerBytes += name.utf8.count + value.utf8.count + 32
        if call.headerBytes <= configuration.maxHeaderListSize { call.headers.append((name, value)) }
    }

    func headersComplete(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID], call.inbound == nil, !call.finished else {
            // Trailers from a client (gRPC sends none): treat as the end of the request.
            if endStream { self.endStream(streamID) }
            return
        }
        if call.headerBytes > configuration.maxHeaderListSize {
            return trailersOnly(streamID, .resourceExhausted,
                "request headers of \(call.headerBytes) bytes exceed the limit of \(configuration.maxHeaderListSize) bytes")
        }
        guard call.first(":method") == "POST" else {
            session.submitHeadersOnly(streamID, [(":status", "405"), ("allow", "POST")])
            return finishLocally(streamID)
        }
        guard let contentType = call.first("content-type"),
              contentType == "application/grpc" || contentType.hasPrefix("application/grpc+") || contentType.hasPrefix("application/grpc;")
        else {
            session.submitHeadersOnly(streamID, [(":status", "415")])
            return finishLocally(streamID)
        }
        let path = call.first(":path") ?? ""
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
        switch call.first("grpc-encoding") {
        case nil, "identity": break
        case "gzip": call.deframer.gzip = true
        case let encoding?:
            return trailersOnly(streamID, .unimplemented,
                "grpc-encoding '\(encoding)' is not supported (supported: \(GRPCWire.acceptEncoding))")
        }
        call.clientAcceptsGzip = GRPCWire.lists(call.first("grpc-accept-encoding"), "gzip")
        let requestInfo = RequestInfo()
        let context = ServerContext(
            method: handler.method, metadata: GRPCWire.metadata(from: call.headers), deadline: deadline, peer: peer,
            response: call.response, request: requestInfo, peerCertificate: peerCertificate)
        let callGuard = configuration.callGuard
        call.headers = []

        let loop = self.loop
        let inbound = InboundMessages(info: requestInfo) { [self] size in loop.execute { [self] in messageRead(streamID, size) } }
        call.inbound = inbound
        if endStream { inbound.finish() }
        let gate = call.gate
        let response = call.response
        let acceptsGzip = call.clientAcceptsGzip
        let writer = ResponseWriter<[UInt8]> { [self] message, compress in
            try Task.checkCancellation()
            let framed = GRPCWire.frame(message, compress: acceptsGzip && (compress ?? response.compress))
            try gate.add(framed.count)
            loop.execute { [self] in sendFramed(streamID, framed) }
            try await gate.waitForRoom()
        }
        let requests = RequestStream<[UInt8]> { try await inbound.next() }
        call.task = Task { [self] in
            var status = RPCError(.ok, "")
            var context = context
            do {
                if let callGuard { context.principal = try await callGuard.admit(context) }
                let admitted = context
                try await Principal.$current.withValue(admitted.principal) {
                    try await handler.handle(requests, writer, admitted)
                }
            } catch let error as RPCError {
                status = error
            } catch is CancellationError {
                status = RPCError(.cancelled, "the call was cancelled")
            } catch {
                status = RPCError(.unknown, "\(error)")
            }
            let finalStatus = status
            callGuard?.finished(context, status: finalStatus)
            loop.execute { [self] in finishCall(streamID, finalStatus) }
        }
        if let deadline {
            call.deadlineTimer = Task { [self] in
                guard (try? await Task.sleep(until: deadline, clock: .continuous)) != nil else { return }
                loop.execute { [self] in
                    guard let call = calls[streamID], !call.finished else { return }
                    let error = RPCError(.deadlineExceeded, "the deadline passed before the call finished")
                    abandon(call, error)
                    finishCall(streamID, error)
                }
            }
        }
    }

    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32) {
        guard let call = calls[streamID] else {
            session.consume(streamID, bytes: bytes.count)
            return
        }
        call.window.receive(bytes.count)
        guard !call.finished, let inbound = call.inbound else {
            settleWindow(streamID, call)
            return
        }
        do throws(MessageDeframer.Failure) {
            for (message, wireSize, compressed) in try call.deframer.append(bytes) {
                call.window.hold(wireSize)
                inbound.deliver(message, wireSize: wireSize, compressed: compressed)
            }
            settleWindow(streamID, call)
        } catch {
            let status = error.status(of: "request", limit: configuration.maxMessageSize)
            failCall(streamID, status.code, status.message)
        }
    }

    /// Gives back window for every received byte that is not held in an unread message.
    private func settleWindow(_ streamID: Int32, _ call: Call) {
        session.consume(streamID, bytes: call.window.settle(ignoringHeld: call.finished))
    }

    private func messageRead(_ streamID: Int32, _ wireSize: Int) {
        guard let call = calls[streamID] else { return }
        call.window.release(wireSize)
        settleWindow(streamID, call)
        io.flush()
    }

    func endStream(_ streamID: Int32) {
        guard let call = calls[streamID], !call.finished, let inbound = call.inbound else { return }
        if call.deframer.hasPartialMessage {
            failCall(streamID, .internal, "the request ended inside a message")
        } else {
            inbound.finish()
        }
    }

    func outboundSent(_ streamID: Int32, bytes: Int) {
        calls[streamID]?.gate.release(bytes)
    }

    func streamClosed(_ streamID: Int32, errorCode: UInt32) {
        guard let call = calls.removeValue(forKey: streamID) else { return }
        if calls.isEmpty { idleSince = .now }
        session.consumeConnection(bytes: call.window.outstanding)
        call.deadlineTimer?.cancel()
        if !call.finished {
            call.finished = true
            abandon(call, RPCError(.cancelled, "the client reset the stream"))
        } else {
            call.gate.fail(RPCError(.cancelled, "the call has ended"))
        }
    }

    // MARK: Calls

    /// The headers every response starts with.
    private static let baseHeaders = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", GRPCWire.acceptEncoding)]

    /// A call's response headers: the base, its encoding, the handler's initial metadata
    /// (which can be invalid: INTERNAL).
    private func responseHeaders(_ call: Call) throws(RPCError) -> [(String, String)] {
        var headers = Self.baseHeaders
        if call.clientAcceptsGzip { headers.append(("grpc-encoding", "gzip")) }
        headers += try GRPCWire.headers(from: call.response.initialMetadata)
        return headers
    }

    private func trailers(_ status: RPCError, _ metadata: Metadata) -> [(String, String)] {
        var trailers = [("grpc-status", String(status.code.rawValue))]
        if !status.message.isEmpty { trailers.append(("grpc-message", GRPCWire.percentEncode(status.message))) }
        var all = metadata
        for (key, value) in status.metadata {
            switch value {
            case .string(let text): all.add(key, text)
            case .binary(let bytes): all.add(key, binary: bytes)
            }
        }
        if let custom = try? GRPCWire.headers(from: all) {
            trailers += custom
        } else {
            trailers = [("grpc-status", String(StatusCode.internal.rawValue)),
                        ("grpc-message", GRPCWire.percentEncode("the handler set trailing metadata that cannot be sent"))]
        }
        return trailers
    }

    private func trailersOnly(_ streamID: Int32, _ code: StatusCode, _ message: String) {
        // Early errors happen before any handler exists: no metadata of its own.
        session.submitHeadersOnly(streamID, Self.baseHeaders + trailers(RPCError(code, message), Metadata()))
        finishLocally(streamID)
    }

    private func finishLocally(_ streamID: Int32) {
        guard let call = calls[streamID] else { return }
        call.finished = true
        call.inbound?.finish()
        settleWindow(streamID, call)
        io.flush()
    }

    private func failCall(_ streamID: Int32, _ code: StatusCode, _ message: String) {
        guard let call = calls[streamID] else { return }
        let error = RPCError(code, message)
        abandon(call, error)
        finishCall(streamID, error)
    }

    private func sendFramed(_ streamID: Int32, _ framed: [UInt8]) {
        guard let call = calls[streamID], !call.finished else { return }
        if !call.responseStarted {
            do {
                let headers = try responseHeaders(call)
                call.responseStarted = true
                session.submitResponse(streamID, headers)
            } catch {
                return failCall(streamID, error.code, error.message)
            }
        }
        session.enqueue(streamID, bytes: framed)
        io.flush()
    }

    private func finishCall(_ streamID: Int32, _ status: RPCError) {
        guard let call = calls[streamID], !call.finished else { return }
        call.finished = true
        call.deadlineTimer?.cancel()
        call.inbound?.finish()
        settleWindow(streamID, call)
        let trailing = trailers(status, call.response.trailingMetadata)
        if call.responseStarted {
            session.finish(streamID, trailers: trailing)
        } else {
            let headers = (try? responseHeaders(call)) ?? Self.baseHeaders
            session.submitHeadersOnly(streamID, headers + trailing)
        }
        io.flush()
    }
}
