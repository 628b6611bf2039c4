internal import CNGHTTP2

/// What the HTTP/2 layer reports about the peer's streams. Called on the thread that
/// feeds the session, during ``HTTP2Session/receive(_:)`` or ``HTTP2Session/drainOutput(into:)``.
public protocol HTTP2SessionDelegate: AnyObject {
    /// Server: a request's header block starts on a new stream.
    func streamOpened(_ streamID: Int32)
    /// One header of the current header block (pseudo-headers included), in order.
    /// Values with surrounding whitespace arrive trimmed.
    func header(_ name: String, _ value: String, stream streamID: Int32)
    /// A header block is complete (request or response headers, or trailers);
    /// `endStream` when the peer half-closed with it.
    func headersComplete(_ streamID: Int32, endStream: Bool)
    /// Body bytes, valid during the call only. With manual flow control the receiver
    /// calls ``HTTP2Session/consume(_:bytes:)`` once it has used them.
    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32)
    /// The peer half-closed the stream with a DATA frame.
    func endStream(_ streamID: Int32)
    /// `bytes` of a stream's queued body went out (flow-control credit used).
    func outboundSent(_ streamID: Int32, bytes: Int)
    /// The stream is gone (completed, or reset by either side with `errorCode`).
    func streamClosed(_ streamID: Int32, errorCode: UInt32)
    /// The peer sent GOAWAY: streams above `lastStreamID` were not processed.
    func goAwayReceived(lastStreamID: Int32, errorCode: UInt32)
}

extension HTTP2SessionDelegate {
    public func streamOpened(_ streamID: Int32) {}
    public func outboundSent(_ streamID: Int32, bytes: Int) {}
    public func goAwayReceived(lastStreamID: Int32, errorCode: UInt32) {}
}

public struct HTTP2Error: Error, CustomStringConvertible {
    public let code: Int32
    public var description: String { String(cString: nghttp2_strerror(code)) }
}

/// HTTP/2 error codes used here (RFC 9113 §7).
public enum HTTP2ErrorCode {
    public static let noError: UInt32 = 0
    public static let protocolError: UInt32 = 1
    public static let internalError: UInt32 = 2
    public static let flowControlError: UInt32 = 3
    public static let refusedStream: UInt32 = 7
    public static let cancel: UInt32 = 8
    public static let enhanceYourCalm: UInt32 = 11
}

/// Session settings.
public struct HTTP2Settings: Sendable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS announced to the peer.
    public var maxConcurrentStreams: UInt32 = 1000
    /// Receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE), bytes.
    public var streamWindow: Int32 = 1 << 20
    /// Receive window of the connection, bytes.
    public var connectionWindow: Int32 = 16 << 20
    /// SETTINGS_MAX_HEADER_LIST_SIZE announced (the receiver enforces it itself).
    public var maxHeaderListSize: UInt32 = 16 << 10
    /// Peer stream resets tolerated: a burst, then a rate per second (nghttp2's
    /// rapid-reset mitigation; past it the session sends GOAWAY).
    public var resetBurst: UInt64 = 1000
    public var resetRatePerSecond: UInt64 = 33

    public init() {}
}

/// An nghttp2 session (server or client) driven by memory: bytes from the socket go in
/// through ``receive(_:)``, bytes for the socket come out of ``drainOutput(into:)``.
/// Flow control is manual: received body bytes count against the windows until the
/// owner calls ``consume(_:bytes:)``.
///
/// Confined to one thread (the connection's event loop); not Sendable.
public final class HTTP2Session {
    private var session: OpaquePointer?
    public weak var delegate: HTTP2SessionDelegate?
    public let isServer: Bool

    /// Body bytes and the end of a stream, read by nghttp2's data provider.
    private struct Outbound {
        var buffer: [UInt8] = []
        var offset = 0
        /// Server: trailers to send after the body.
        var trailers: [(String, String)]?
        /// Client: END_STREAM after the body.
        var endStream = false
        var queued: Int { buffer.count - offset }
    }
    private var outbound: [Int32: Outbound] = [:]

    public init(server: Bool, settings: HTTP2Settings = HTTP2Settings()) {
        isServer = server
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
                  frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
            HTTP2Session.from(user).delegate?.streamOpened(frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            let headerName = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let headerValue = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            HTTP2Session.from(user).delegate?.header(headerName, headerValue, stream: frame.pointee.hd.stream_id)
            return 0
        }
        // nghttp2 drops header fields it finds invalid unless told. A value with
        // surrounding whitespace is passed on trimmed; anything else (upper case or
        // illegal characters in a name, control bytes in a value) resets the stream.
        nghttp2_session_callbacks_set_on_invalid_header_callback2(callbacks) { _, frame, name, value, _, user in
            guard let frame, let name, let value, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else {
                return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
            let nameBuffer = nghttp2_rcbuf_get_buf(name)
            let valueBuffer = nghttp2_rcbuf_get_buf(value)
            let nameBytes = UnsafeBufferPointer(start: nameBuffer.base, count: nameBuffer.len)
            let valueBytes = UnsafeBufferPointer(start: valueBuffer.base, count: valueBuffer.len)
            let isToken: (UInt8) -> Bool = { byte in
                (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F || byte == 0x2E
            }
            let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
            let trimmed = valueBytes.drop(while: isSpace).reversed().drop(while: isSpace).reversed()
            guard nameBytes.count > 0, nameBytes.allSatisfy(isToken),
                  trimmed.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
            HTTP2Session.from(user).delegate?.header(
                String(decoding: nameBytes, as: UTF8.self), String(decoding: trimmed, as: UTF8.self),
                stream: frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame else { return 0 }
            let session = HTTP2Session.from(user)
            let id = frame.pointee.hd.stream_id
            let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch UInt32(frame.pointee.hd.type) {
            case NGHTTP2_HEADERS.rawValue:
                session.delegate?.headersComplete(id, endStream: endStream)
            case NGHTTP2_DATA.rawValue:
                if endStream { session.delegate?.endStream(id) }
            case NGHTTP2_GOAWAY.rawValue:
                session.delegate?.goAwayReceived(
                    lastStreamID: frame.pointee.goaway.last_stream_id, errorCode: frame.pointee.goaway.error_code)
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, user in
            HTTP2Session.from(user).delegate?.data(UnsafeRawBufferPointer(start: data, count: length), stream: streamID)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, user in
            let session = HTTP2Session.from(user)
            session.outbound[streamID] = nil
            session.delegate?.streamClosed(streamID, errorCode: errorCode)
            return 0
        }
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        defer { nghttp2_option_del(options) }
        nghttp2_option_set_no_auto_window_update(options, 1)
        nghttp2_option_set_stream_reset_rate_limit(options, settings.resetBurst, settings.resetRatePerSecond)
        let user = Unmanaged.passUnretained(self).toOpaque()
        if server {
            nghttp2_session_server_new2(&session, callbacks, user, options)
        } else {
            nghttp2_session_client_new2(&session, callbacks, user, options)
        }
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(settings.streamWindow)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
        ]
        if !server {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow)
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// The session of a callback's `user_data`; the session outlives its nghttp2 object.
    private static func from(_ user: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(user!).takeUnretainedValue()
    }

    /// Feeds bytes from the peer. Throws for a bad preface or a protocol error; the
    /// session may still have a GOAWAY to send (``drainOutput(into:)``) before closing.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        let consumed = nghttp2_session_mem_recv(session, base, bytes.count)
        if consumed < 0 { throw HTTP2Error(code: Int32(consumed)) }
    }

    /// Appends the frames nghttp2 wants to send to `output`, until `output` holds
    /// `limit` bytes or nothing is left.
    public func drainOutput(into output: inout [UInt8], limit: Int = .max) throws(HTTP2Error) {
        while output.count < limit {
            var data: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &data)
            if length < 0 { throw HTTP2Error(code: Int32(length)) }
            if length == 0 { return }
            output.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        }
    }

    /// Whether the session wants to go on (false after GOAWAY both ways with no streams
    /// left, or a fatal error).
    public var isAlive: Bool { nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0 }

    /// Marks `bytes` of a stream's received body as used: the windows reopen.
    public func consume(_ streamID: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        if nghttp2_session_consume(session, streamID, bytes) != 0 {
            nghttp2_session_consume_connection(session, bytes)
        }
    }

    /// Marks received bytes of a stream that is gone as used, for the connection window.
    public func consumeConnection(bytes: Int) {
        guard bytes > 0 else { return }
        nghttp2_session_consume_connection(session, bytes)
    }

    private func withHeaders<R>(_ headers: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var storage: [[UInt8]] = []
        storage.reserveCapacity(headers.count * 2)
        for (name, value) in headers {
            storage.append(Array(name.utf8))
            storage.append(Array(value.utf8))
        }
        let pointers: [UnsafeMutablePointer<UInt8>] = storage.map { bytes in
            let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
            pointer.initialize(from: bytes, count: bytes.count)
            return pointer
        }
        defer { pointers.forEach { $0.deallocate() } }
        var nva: [nghttp2_nv] = []
        nva.reserveCapacity(headers.count)
        for index in 0..<headers.count {
            nva.append(nghttp2_nv(
                name: pointers[2 * index], value: pointers[2 * index + 1],
                namelen: storage[2 * index].count, valuelen: storage[2 * index + 1].count,
                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }

    private func makeProvider() -> nghttp2_data_provider {
        var provider = nghttp2_data_provider()
        provider.source.ptr = nil
        provider.read_callback = { session, streamID, buffer, length, flags, _, user in
            HTTP2Session.from(user).read(session, streamID, buffer!, length, flags!)
        }
        return provider
    }

    // MARK: Server side

    /// Response headers with END_STREAM and no body (a gRPC trailers-only response).
    public func submitHeadersOnly(_ streamID: Int32, _ headers: [(String, String)]) {
        withHeaders(headers) { nva, count in _ = nghttp2_submit_response(session, streamID, nva, count, nil) }
    }

    /// Response headers followed by a body fed through ``enqueue(_:bytes:)`` and closed by
    /// ``finish(_:trailers:)``.
    public func submitResponse(_ streamID: Int32, _ headers: [(String, String)]) {
        outbound[streamID] = Outbound()
        var provider = makeProvider()
        withHeaders(headers) { nva, count in _ = nghttp2_submit_response(session, streamID, nva, count, &provider) }
    }

    /// Ends the body with trailers (HEADERS with END_STREAM after the last DATA).
    public func finish(_ streamID: Int32, trailers: [(String, String)]) {
        guard outbound[streamID] != nil else { return }
        outbound[streamID]!.trailers = trailers
        nghttp2_session_resume_data(session, streamID)
    }

    /// A PING the peer must answer (keepalive); its ACK arrives as an ordinary frame.
    public func submitPing() {
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
    }

    /// The first notice of a graceful shutdown (GOAWAY with the largest stream id).
    public func submitShutdownNotice() {
        nghttp2_submit_shutdown_notice(session)
    }

    /// GOAWAY naming the last stream this side processed; no new streams after it.
    public func submitGoAway(errorCode: UInt32 = HTTP2ErrorCode.noError) {
        nghttp2_submit_goaway(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session), errorCode, nil, 0)
    }

    // MARK: Client side

    /// Opens a stream with request `headers` and a body fed through ``enqueue(_:bytes:)``
    /// and ended by ``endRequest(_:)``. Returns the stream id, or throws when no new
    /// stream can be opened (stream ids exhausted, GOAWAY received).
    public func submitRequest(_ headers: [(String, String)]) throws(HTTP2Error) -> Int32 {
        var provider = makeProvider()
        let id = withHeaders(headers) { nva, count in nghttp2_submit_request(session, nil, nva, count, &provider, nil) }
        if id < 0 { throw HTTP2Error(code: id) }
        outbound[id] = Outbound()
        return id
    }

    /// Half-closes a request stream after its queued body.
    public func endRequest(_ streamID: Int32) {
        guard outbound[streamID] != nil else { return }
        outbound[streamID]!.endStream = true
        nghttp2_session_resume_data(session, streamID)
    }

    // MARK: Both sides

    /// Queues body bytes on a stream with an open body.
    public func enqueue(_ streamID: Int32, bytes: [UInt8]) {
        guard outbound[streamID] != nil else { return }
        if outbound[streamID]!.queued == 0 {
            outbound[streamID]!.buffer.removeAll(keepingCapacity: true)
            outbound[streamID]!.offset = 0
        }
        outbound[streamID]!.buffer.append(contentsOf: bytes)
        nghttp2_session_resume_data(session, streamID)
    }

    /// Resets a stream (RST_STREAM with `errorCode`).
    public func reset(_ streamID: Int32, errorCode: UInt32 = HTTP2ErrorCode.cancel) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, errorCode)
    }

    private func read(
        _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
        _ flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard var state = outbound[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        outbound[streamID] = nil  // no copy-on-write of the buffer while it is read
        let count = min(state.queued, length)
        if count > 0 {
            state.buffer.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + state.offset, count: count)
            }
            state.offset += count
            if state.offset == state.buffer.count {
                state.buffer.removeAll(keepingCapacity: state.buffer.capacity <= 1 << 20)
                state.offset = 0
            } else if state.offset > 1 << 16 {
                state.buffer.removeFirst(state.offset)
                state.offset = 0
            }
        }
        let drained = state.queued == 0
        if drained, let trailers = state.trailers {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            withHeaders(trailers) { nva, n in _ = nghttp2_submit_trailer(session, streamID, nva, n) }
        } else if drained, state.endStream {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        } else {
            outbound[streamID] = state
        }
        if count > 0 { delegate?.outboundSent(streamID, bytes: count) }
        if count == 0 && flags.pointee & NGHTTP2_DATA_FLAG_EOF.rawValue == 0 { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
        return count
    }
}
