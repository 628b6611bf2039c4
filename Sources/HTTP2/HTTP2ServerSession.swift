internal import CNGHTTP2

/// What the HTTP/2 layer reports about the peer's streams. Called on the thread that
/// feeds the session, during ``HTTP2ServerSession/receive(_:)``.
public protocol HTTP2ServerSessionDelegate: AnyObject {
    /// A request's header block starts on a new stream.
    func streamOpened(_ streamID: Int32)
    /// One request header (pseudo-headers included), in order.
    func header(_ name: String, _ value: String, stream streamID: Int32)
    /// The request header block is complete; `endStream` when the request has no body.
    func headersComplete(_ streamID: Int32, endStream: Bool)
    /// Request body bytes; valid during the call only.
    func data(_ bytes: UnsafeRawBufferPointer, stream streamID: Int32)
    /// The client half-closed the stream.
    func endStream(_ streamID: Int32)
    /// The stream is gone (completed, or reset by either side with `errorCode`).
    func streamClosed(_ streamID: Int32, errorCode: UInt32)
}

public struct HTTP2Error: Error, CustomStringConvertible {
    public let code: Int32
    public var description: String { String(cString: nghttp2_strerror(code)) }
}

/// An nghttp2 server session driven by memory: bytes from the socket go in through
/// ``receive(_:)``, bytes for the socket come out of ``drainOutput(into:)``.
///
/// Confined to one thread (the connection's event loop); not Sendable.
public final class HTTP2ServerSession {
    private var session: OpaquePointer?
    public weak var delegate: HTTP2ServerSessionDelegate?

    /// Response body bytes and trailers per stream, read by nghttp2's data provider.
    private struct Outbound {
        var buffer: [UInt8] = []
        var offset = 0
        var trailers: [(String, String)]?
    }
    private var outbound: [Int32: Outbound] = [:]

    /// - Parameter maxConcurrentStreams: SETTINGS_MAX_CONCURRENT_STREAMS we announce.
    public init(maxConcurrentStreams: UInt32 = 1000) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
                  frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else { return 0 }
            HTTP2ServerSession.from(user).delegate?.streamOpened(frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
            let headerName = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            let headerValue = String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            HTTP2ServerSession.from(user).delegate?.header(headerName, headerValue, stream: frame.pointee.hd.stream_id)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame else { return 0 }
            let session = HTTP2ServerSession.from(user)
            let id = frame.pointee.hd.stream_id
            let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            switch UInt32(frame.pointee.hd.type) {
            case NGHTTP2_HEADERS.rawValue where frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST:
                session.delegate?.headersComplete(id, endStream: endStream)
            case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
                if endStream { session.delegate?.endStream(id) }
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, user in
            HTTP2ServerSession.from(user).delegate?.data(UnsafeRawBufferPointer(start: data, count: length), stream: streamID)
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, user in
            let session = HTTP2ServerSession.from(user)
            session.outbound[streamID] = nil
            session.delegate?.streamClosed(streamID, errorCode: errorCode)
            return 0
        }
        var options: OpaquePointer?
        nghttp2_option_new(&options)
        defer { nghttp2_option_del(options) }
        nghttp2_session_server_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), options)
        var settings = [nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: maxConcurrentStreams)]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// The session of a callback's `user_data`; the session outlives its nghttp2 object.
    private static func from(_ user: UnsafeMutableRawPointer?) -> HTTP2ServerSession {
        Unmanaged<HTTP2ServerSession>.fromOpaque(user!).takeUnretainedValue()
    }

    /// Feeds bytes from the peer. Throws for a bad preface or a protocol error; the
    /// session may still have a GOAWAY to send (``drainOutput(into:)``) before closing.
    public func receive(_ bytes: UnsafeRawBufferPointer) throws(HTTP2Error) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        let consumed = nghttp2_session_mem_recv(session, base, bytes.count)
        if consumed < 0 { throw HTTP2Error(code: Int32(consumed)) }
    }

    /// Appends every frame nghttp2 wants to send to `output`.
    public func drainOutput(into output: inout [UInt8]) throws(HTTP2Error) {
        while true {
            var data: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(session, &data)
            if length < 0 { throw HTTP2Error(code: Int32(length)) }
            if length == 0 { return }
            output.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        }
    }

    /// Whether the session wants to go on (false after GOAWAY both ways, or a fatal error).
    public var isAlive: Bool { nghttp2_session_want_read(session) != 0 || nghttp2_session_want_write(session) != 0 }

    private func withHeaders<R>(_ headers: [(String, String)], _ body: (UnsafePointer<nghttp2_nv>, Int) -> R) -> R {
        var storage: [[UInt8]] = []
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
        for index in 0..<headers.count {
            nva.append(nghttp2_nv(
                name: pointers[2 * index], value: pointers[2 * index + 1],
                namelen: storage[2 * index].count, valuelen: storage[2 * index + 1].count,
                flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }

    /// Response headers with END_STREAM and no body (a gRPC trailers-only response).
    public func submitHeadersOnly(_ streamID: Int32, _ headers: [(String, String)]) {
        withHeaders(headers) { nva, count in _ = nghttp2_submit_response(session, streamID, nva, count, nil) }
    }

    /// Response headers followed by a body fed through ``enqueue(_:bytes:)`` and closed by
    /// ``finish(_:trailers:)``.
    public func submitResponse(_ streamID: Int32, _ headers: [(String, String)]) {
        outbound[streamID] = Outbound()
        var provider = nghttp2_data_provider()
        provider.source.ptr = nil
        provider.read_callback = { session, streamID, buffer, length, flags, _, user in
            HTTP2ServerSession.from(user).read(session, streamID, buffer!, length, flags!)
        }
        withHeaders(headers) { nva, count in _ = nghttp2_submit_response(session, streamID, nva, count, &provider) }
    }

    /// Queues body bytes on a stream whose response was submitted.
    public func enqueue(_ streamID: Int32, bytes: [UInt8]) {
        guard outbound[streamID] != nil else { return }
        outbound[streamID]!.buffer.append(contentsOf: bytes)
        nghttp2_session_resume_data(session, streamID)
    }

    /// Ends the body with trailers (HEADERS with END_STREAM after the last DATA).
    public func finish(_ streamID: Int32, trailers: [(String, String)]) {
        guard outbound[streamID] != nil else { return }
        outbound[streamID]!.trailers = trailers
        nghttp2_session_resume_data(session, streamID)
    }

    private func read(
        _ session: OpaquePointer?, _ streamID: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ length: Int,
        _ flags: UnsafeMutablePointer<UInt32>
    ) -> Int {
        guard var state = outbound[streamID] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let available = state.buffer.count - state.offset
        let count = min(available, length)
        if count > 0 {
            state.buffer.withUnsafeBufferPointer { source in
                buffer.update(from: source.baseAddress! + state.offset, count: count)
            }
            state.offset += count
            if state.offset == state.buffer.count {
                state.buffer.removeAll(keepingCapacity: true)
                state.offset = 0
            } else if state.offset > 65_536 {
                state.buffer.removeFirst(state.offset)
                state.offset = 0
            }
        }
        let drained = state.buffer.count == state.offset
        if drained, let trailers = state.trailers {
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
            outbound[streamID] = nil
            withHeaders(trailers) { nva, n in _ = nghttp2_submit_trailer(session, streamID, nva, n) }
            return count
        }
        outbound[streamID] = state
        if count == 0 { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
        return count
    }
}
