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
        /// The call's protocol state: headers, deframing, what may be sent.
        var stream: GRPCStreamStateMachine
        var inbound: InboundMessages?
        let gate = OutboundGate()
        var task: Task<Void, Never>?
        /// Ends the call with DEADLINE_EXCEEDED; cancelled when the call ends first.
        var deadlineTimer: LoopTimers.ID?
        let response = ResponseOptions()
        var window = WindowAccount()
        /// When the stream's HEADERS began (the header block must finish in time).
        let openedAt: ContinuousClock.Instant
        /// When the request message now arriving began; nil between messages.
        var partialSince: ContinuousClock.Instant?
        init(maxMessageSize: Int, maxHeaderListSize: Int, openedAt: ContinuousClock.Instant) {
            stream = GRPCStreamStateMachine(role: .server, maxMessageSize: maxMessageSize, maxHeaderListSize: maxHeaderListSize)
            self.openedAt = openedAt
        }
        /// The response side closed: the status went out or the call was abandoned.
        var finished: Bool { stream.isFinished }
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
            if call.stream.awaitingRequestHeaders && now - call.openedAt > limits.allowance(forBytes: configuration.maxHeaderListSize) {
                return closeForLimit("a request header block arrived slower than \(limits.minReceiveRate) bytes/s", calm: true)
            }
            guard call.stream.hasPartialMessage else {
                call.partialSince = nil
                continue
            }
            guard let since = call.partialSince else {
                call.partialSince = now
                continue
            }
            let size = call.stream.partialMessageWireSize
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

    private func cancelDeadline(_ call: Call) {
        if let timer = call.deadlineTimer { loop.cancel(timer) }
        call.deadlineTimer = nil
    }

    /// Stops a call's handler: its reads and writes fail with `error`.
    private func abandon(_ call: Call, _ error: RPCError) {
        cancelDeadline(call)
        call.inbound?.finish(throwing: error)
        call.gate.fail(error)
        call.task?.cancel()
    }

    // MARK: HTTP2SessionDelegate

    func streamOpened(_ streamID: Int32) {
        calls[streamID] = Call(
            maxMessageSize: configuration.maxMessageSize, maxHeaderListSize: configuration.maxHeaderListSize, openedAt: .now)
    }

    func header(_ name: String, _ value: String, stream streamID: Int32) {
        calls[streamID]?.stream.receiveHeader(name, value)
    }

    func headersComplete(_ streamID: Int32, endStream: Bool) {
        guard let call = calls[streamID] else { return }
        let head: GRPCStreamStateMachine.RequestHead
        switch call.stream.receiveRequestHeaders(endStream: endStream) {
        case .none: return
        case .endOfRequest: return self.endStream(streamID)
        case .reject(let headers):
            session.submitHeadersOnly(streamID, headers)
            return finishLocally(streamID)
        case .accept(let accepted): head = accepted
        }
        guard let handler = router.handler(for: head.path) else {
            session.submitHeadersOnly(streamID, call.stream.rejectCall(RPCError(.unimplemented, router.unknownMethodMessage(head.path))))
            return finishLocally(streamID)
        }
        let deadline = head.timeout.map { ContinuousClock.now + $0 }
        let requestInfo = RequestInfo()
        let context = ServerContext(
            method: handler.method, metadata: head.metadata, deadline: deadline, peer: peer,
            response: call.response, request: requestInfo, peerCertificate: peerCertificate)
        let startedAt = ContinuousClock.now
        configuration.callObserver?.started(handler.method)

        let loop = self.loop
        let inbound = InboundMessages(info: requestInfo) { [self] size in loop.execute { [self] in messageRead(streamID, size) } }
        call.inbound = inbound
        if endStream { inbound.finish() }
        let gate = call.gate
        let response = call.response
        let acceptsGzip = call.stream.peerAcceptsGzip
        let writer = ResponseWriter<[UInt8]> { [self] message, compress in
            try Task.checkCancellation()
            let framed = GRPCWire.frame(message, compress: acceptsGzip && (compress ?? response.compress))
            try gate.add(framed.count)
            loop.execute { [self] in sendFramed(streamID, framed) }
            try await gate.waitForRoom()
        }
        let requests = RequestStream<[UInt8]> { try await inbound.next() }
        let configuration = self.configuration
        call.task = Task { [self] in
            let finalStatus = await configuration.runCall(context, startedAt: startedAt) { admitted in
                try await handler.handle(requests, writer, admitted)
            }
            loop.execute { [self] in finishCall(streamID, finalStatus) }
        }
        if let deadline {
            call.deadlineTimer = loop.schedule(at: deadline) { [self] in
                guard let call = calls[streamID], !call.finished else { return }
                call.deadlineTimer = nil
                let error = RPCError(.deadlineExceeded, "the deadline passed before the call finished")
                abandon(call, error)
                finishCall(streamID, error)
            }
        }
    }

    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32) {
        guard let call = calls[streamID] else {
            session.consume(streamID, bytes: bytes.count)
            return
        }
        call.window.receive(bytes.count)
        if let inbound = call.inbound {
            switch call.stream.receiveData(bytes) {
            case .none: break
            case .messages(let messages):
                for (message, wireSize, compressed) in messages {
                    call.window.hold(wireSize)
                    inbound.deliver(message, wireSize: wireSize, compressed: compressed)
                }
            case .fail(let status):
                return failCall(streamID, status)
            }
        }
        settleWindow(streamID, call)
    }

    /// Gives back window for every received byte that is not held in an unread message.
    private func settleWindow(_ streamID: Int32, _ call: Call) {
        session.consume(streamID, bytes: call.window.settle(ignoringHeld: call.finished))
    }

    private func messageRead(_ streamID: Int32, _ wireSize: Int) {
        guard let call = calls[streamID] else { return }
        call.window.release(wireSize)
        settleWindow(streamID, call)
        io.flushSoon()
    }

    func endStream(_ streamID: Int32) {
        guard let call = calls[streamID], let inbound = call.inbound else { return }
        if let error = call.stream.receiveEndOfRequest() {
            failCall(streamID, error)
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
        cancelDeadline(call)
        if call.stream.abandon() {
            abandon(call, RPCError(.cancelled, "the client reset the stream"))
        } else {
            call.gate.fail(RPCError(.cancelled, "the call has ended"))
        }
    }

    // MARK: Calls

    /// Ends a call the handler never saw (refused before routing): only its window to settle.
    private func finishLocally(_ streamID: Int32) {
        guard let call = calls[streamID] else { return }
        call.inbound?.finish()
        settleWindow(streamID, call)
        io.flushSoon()
    }

    private func failCall(_ streamID: Int32, _ error: RPCError) {
        guard let call = calls[streamID] else { return }
        abandon(call, error)
        finishCall(streamID, error)
    }

    private func sendFramed(_ streamID: Int32, _ framed: [UInt8]) {
        guard let call = calls[streamID], !call.finished else { return }
        do {
            if let headers = try call.stream.sendResponseMessage(initialMetadata: call.response.initialMetadata) {
                session.submitResponse(streamID, headers)
            }
        } catch {
            return failCall(streamID, error)
        }
        session.enqueue(streamID, bytes: framed)
        io.flushSoon()
    }

    private func finishCall(_ streamID: Int32, _ status: RPCError) {
        guard let call = calls[streamID], !call.finished else { return }
        let action = call.stream.sendStatus(
            status, trailingMetadata: call.response.trailingMetadata, initialMetadata: call.response.initialMetadata)
        cancelDeadline(call)
        call.inbound?.finish()
        settleWindow(streamID, call)
        switch action {
        case .trailers(let trailers): session.finish(streamID, trailers: trailers)
        case .trailersOnly(let headers): session.submitHeadersOnly(streamID, headers)
        case .none: break
        }
        io.flushSoon()
    }
}
