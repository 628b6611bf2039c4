import HTTP2
import RPCCore

/// The gRPC protocol of one HTTP/2 stream, for either side, as a value: the connection
/// feeds it what arrived (header fields, the end of a header block, DATA bytes, the end of
/// the stream, a reset) and what its side wants to send, and it answers with an action
/// (headers to submit, messages to deliver, a status to end the call with). It owns the
/// protocol rules — which headers a request and a response need, what a trailers block
/// means, how HTTP statuses map to gRPC codes, what may be sent in which state — and
/// touches no socket, session or task, so tests drive it byte by byte.
///
/// Each direction moves idle → open → closed: the client's side opens with the request
/// headers and closes with END_STREAM; the server's opens with the response headers and
/// closes with the trailers (or a trailers-only response, which skips open).
public struct GRPCStreamStateMachine {
    public enum Role: Sendable { case client, server }

    /// One direction's progress.
    public enum Side: Equatable, Sendable {
        case idle
        case open
        case closed
    }

    public let role: Role
    /// The requests' direction (client → server).
    public private(set) var client: Side = .idle
    /// The responses' direction (server → client).
    public private(set) var server: Side = .idle

    private var block: [(String, String)] = []
    private var blockBytes = 0
    private var blockTooLarge = false
    private var deframer: MessageDeframer
    private let maxHeaderListSize: Int
    /// Server: the client accepts gzip responses.
    public private(set) var peerAcceptsGzip = false

    /// - Parameters:
    ///   - maxMessageSize: the largest message accepted from the peer (after inflating).
    ///   - maxHeaderListSize: the largest header block accepted (RFC 7541 sizes: name + value + 32 per field).
    public init(role: Role, maxMessageSize: Int, maxHeaderListSize: Int = 16 * 1024) {
        self.role = role
        self.maxHeaderListSize = maxHeaderListSize
        deframer = MessageDeframer(maxMessageSize: maxMessageSize)
    }

    /// Whether the call's outcome is settled: the server's side closed (or, for a client, aborted).
    public var isFinished: Bool { server == .closed }

    /// Server: the request headers have not all arrived yet.
    public var awaitingRequestHeaders: Bool { role == .server && client == .idle && server == .idle }

    /// Bytes of an unfinished inbound message are held; its wire size (5 while its prefix is incomplete).
    public var partialMessageWireSize: Int { deframer.partialMessageWireSize }
    public var hasPartialMessage: Bool { deframer.hasPartialMessage }

    // MARK: Header blocks (both roles)

    /// One header field of the block arriving. Fields past `maxHeaderListSize` are
    /// counted and dropped; the block is then refused when complete.
    public mutating func receiveHeader(_ name: String, _ value: String) {
        guard !isFinished else { return }
        blockBytes += name.utf8.count + value.utf8.count + 32
        if blockBytes <= maxHeaderListSize {
            block.append((name, value))
        } else {
            blockTooLarge = true
        }
    }

    private mutating func takeBlock() -> (fields: [(String, String)], bytes: Int, tooLarge: Bool) {
        defer {
            block = []
            blockBytes = 0
            blockTooLarge = false
        }
        return (block, blockBytes, blockTooLarge)
    }

    private static func first(_ name: String, in fields: [(String, String)]) -> String? {
        fields.first { $0.0 == name }?.1
    }

    // MARK: Server

    /// What a request's headers ask for.
    public struct RequestHead {
        /// `:path`, e.g. /package.Service/Method.
        public let path: String
        /// The request metadata (custom headers).
        public let metadata: Metadata
        /// `grpc-timeout`, when the client set one.
        public let timeout: Duration?
    }

    /// What a server does with a completed request header block.
    public enum RequestHeadersAction {
        /// A gRPC call to route: start its handler.
        case accept(RequestHead)
        /// Not a call this server takes: submit these headers with END_STREAM (an HTTP
        /// error or a trailers-only gRPC status); the call is over.
        case reject([(String, String)])
        /// A second header block (trailers, which gRPC clients never send): with END_STREAM,
        /// the end of the request.
        case endOfRequest
        /// Nothing to do (the call is over, or trailers without END_STREAM).
        case none
    }

    /// The headers every response starts with.
    public static let baseResponseHeaders = [
        (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", GRPCWire.acceptEncoding),
    ]

    /// Server: a request header block is complete.
    public mutating func receiveRequestHeaders(endStream: Bool) -> RequestHeadersAction {
        assert(role == .server)
        let (fields, bytes, tooLarge) = takeBlock()
        guard !isFinished else { return .none }
        guard client == .idle else {
            return endStream && client == .open ? .endOfRequest : .none
        }
        if tooLarge {
            return .reject(rejectCall(RPCError(.resourceExhausted,
                "request headers of \(bytes) bytes exceed the limit of \(maxHeaderListSize) bytes")))
        }
        guard Self.first(":method", in: fields) == "POST" else {
            server = .closed
            return .reject([(":status", "405"), ("allow", "POST")])
        }
        guard let contentType = Self.first("content-type", in: fields),
              contentType == "application/grpc" || contentType.hasPrefix("application/grpc+") || contentType.hasPrefix("application/grpc;")
        else {
            server = .closed
            return .reject([(":status", "415")])
        }
        var timeout: Duration?
        if let text = Self.first("grpc-timeout", in: fields) {
            guard let duration = GRPCWire.timeout(text) else {
                return .reject(rejectCall(RPCError(.invalidArgument, "malformed grpc-timeout header '\(text)'")))
            }
            timeout = duration
        }
        switch Self.first("grpc-encoding", in: fields) {
        case nil, "identity": break
        case "gzip": deframer.gzip = true
        case let encoding?:
            return .reject(rejectCall(RPCError(.unimplemented,
                "grpc-encoding '\(encoding)' is not supported (supported: \(GRPCWire.acceptEncoding))")))
        }
        peerAcceptsGzip = GRPCWire.lists(Self.first("grpc-accept-encoding", in: fields), "gzip")
        client = endStream ? .closed : .open
        return .accept(RequestHead(
            path: Self.first(":path", in: fields) ?? "", metadata: GRPCWire.metadata(from: fields), timeout: timeout))
    }

    /// Server: refuses a call before any response (an unknown method, a malformed header):
    /// the trailers-only response to submit with END_STREAM.
    public mutating func rejectCall(_ status: RPCError) -> [(String, String)] {
        server = .closed
        return Self.baseResponseHeaders + Self.trailers(status, Metadata())
    }

    /// What a received run of DATA bytes gives.
    public enum DataAction {
        /// Complete messages with their wire sizes (flow-control accounting) and whether each came compressed.
        case messages([(message: [UInt8], wireSize: Int, compressed: Bool)])
        /// The bytes break the protocol: end the call with this status (server: as its
        /// trailers; client: reset the stream and report it).
        case fail(RPCError)
        /// The call is over; the bytes only count for flow control.
        case none
    }

    /// Either role: DATA bytes from the peer.
    public mutating func receiveData(_ bytes: UnsafeRawBufferPointer) -> DataAction {
        let peerOpen = role == .server ? client == .open : server == .open
        guard !isFinished, peerOpen else { return .none }
        do throws(MessageDeframer.Failure) {
            return .messages(try deframer.append(bytes))
        } catch {
            return .fail(error.status(of: role == .server ? "request" : "response", limit: deframer.maxMessageSize))
        }
    }

    /// Server: END_STREAM on the request. Nil when the request ended cleanly (or the call
    /// is over); a status to end the call with when it ended inside a message.
    public mutating func receiveEndOfRequest() -> RPCError? {
        assert(role == .server)
        guard !isFinished, client == .open else { return nil }
        client = .closed
        return deframer.hasPartialMessage ? RPCError(.internal, "the request ended inside a message") : nil
    }

    /// Server: a response message is about to be sent. Returns the response headers to
    /// submit first (the first message carries the initial metadata), nil when they went
    /// already; throws when the call is over or the metadata cannot be sent.
    public mutating func sendResponseMessage(initialMetadata: Metadata) throws(RPCError) -> [(String, String)]? {
        assert(role == .server)
        switch server {
        case .closed: throw RPCError(.cancelled, "the call has ended")
        case .open: return nil
        case .idle:
            let headers = try responseHeaders(initialMetadata)
            server = .open
            return headers
        }
    }

    private func responseHeaders(_ initialMetadata: Metadata) throws(RPCError) -> [(String, String)] {
        var headers = Self.baseResponseHeaders
        if peerAcceptsGzip { headers.append(("grpc-encoding", "gzip")) }
        headers += try GRPCWire.headers(from: initialMetadata)
        return headers
    }

    /// How a server ends a call.
    public enum StatusAction {
        /// Response headers went out: submit these trailers with END_STREAM.
        case trailers([(String, String)])
        /// No response yet: submit one header block (headers and status) with END_STREAM.
        case trailersOnly([(String, String)])
        /// The call is already over.
        case none
    }

    /// Server: the handler finished with `status`.
    public mutating func sendStatus(_ status: RPCError, trailingMetadata: Metadata, initialMetadata: Metadata) -> StatusAction {
        assert(role == .server)
        switch server {
        case .closed: return .none
        case .open:
            server = .closed
            return .trailers(Self.trailers(status, trailingMetadata))
        case .idle:
            server = .closed
            let headers = (try? responseHeaders(initialMetadata)) ?? Self.baseResponseHeaders
            return .trailersOnly(headers + Self.trailers(status, trailingMetadata))
        }
    }

    /// A status as trailer fields, the status's own metadata merged into `metadata`;
    /// metadata that cannot be sent turns the status into INTERNAL.
    public static func trailers(_ status: RPCError, _ metadata: Metadata) -> [(String, String)] {
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

    /// Server or client: the call ends from this side without a status exchange (the
    /// deadline passed, the peer reset, the connection closed). True when it was still going.
    public mutating func abandon() -> Bool {
        guard !isFinished else { return false }
        server = .closed
        if client != .closed { client = .closed }
        return true
    }

    // MARK: Client

    /// What a client sends to open a call.
    public struct RequestOptions {
        public var scheme: String
        public var authority: String
        public var path: String
        public var timeout: Duration?
        public var compress: Bool
        public var metadata: Metadata
        public var bearerToken: String?
        public var userAgent: String

        public init(
            scheme: String, authority: String, path: String, timeout: Duration? = nil, compress: Bool = false,
            metadata: Metadata = Metadata(), bearerToken: String? = nil, userAgent: String = "ultracore-grpc-swift/0.3"
        ) {
            self.scheme = scheme
            self.authority = authority
            self.path = path
            self.timeout = timeout
            self.compress = compress
            self.metadata = metadata
            self.bearerToken = bearerToken
            self.userAgent = userAgent
        }
    }

    /// Client: the request headers that open the call; throws INTERNAL for metadata that
    /// cannot be sent, FAILED_PRECONDITION when the call is already open.
    public mutating func sendRequestHeaders(_ options: RequestOptions) throws(RPCError) -> [(String, String)] {
        assert(role == .client)
        guard client == .idle, server == .idle else { throw RPCError(.failedPrecondition, "the call is already open") }
        var headers = [
            (":method", "POST"), (":scheme", options.scheme), (":path", options.path), (":authority", options.authority),
            ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", options.userAgent),
            ("grpc-accept-encoding", GRPCWire.acceptEncoding),
        ]
        if options.compress { headers.append(("grpc-encoding", "gzip")) }
        if let timeout = options.timeout { headers.append(("grpc-timeout", GRPCWire.timeoutHeader(timeout))) }
        headers += try GRPCWire.headers(from: options.metadata)
        if let token = options.bearerToken, options.metadata.first("authorization") == nil {
            headers.append(("authorization", "Bearer \(token)"))
        }
        client = .open
        return headers
    }

    /// Client: whether a request message may go out now (the request is open and the call not over).
    public var canSendRequestMessage: Bool { role == .client && client == .open && !isFinished }

    /// Client: END_STREAM on the request; false when there is nothing to close.
    public mutating func closeRequest() -> Bool {
        assert(role == .client)
        guard client == .open, !isFinished else { return false }
        client = .closed
        return true
    }

    /// What a client does with a completed response header block.
    public enum ResponseHeadersAction {
        /// 1xx: the real headers follow.
        case informational
        /// The response began: its initial metadata.
        case initialMetadata(Metadata)
        /// The call ended with this status and trailing metadata (trailers, or a trailers-only response).
        case finished(RPCError, trailers: Metadata, initialMetadata: Metadata?)
        /// Not a gRPC response: reset the stream, end the call with this status.
        case abort(RPCError)
        /// The call is over.
        case none
    }

    /// Client: a response header block is complete.
    public mutating func receiveResponseHeaders(endStream: Bool) -> ResponseHeadersAction {
        assert(role == .client)
        let (fields, _, _) = takeBlock()
        guard !isFinished else { return .none }
        if server == .open {
            server = .closed
            return .finished(Self.status(fields), trailers: GRPCWire.metadata(from: fields), initialMetadata: nil)
        }
        let httpCode = Self.first(":status", in: fields).flatMap { Int($0) } ?? 0
        if (100..<200).contains(httpCode) { return .informational }
        guard httpCode == 200 else {
            server = .closed
            return .abort(RPCError(Self.code(forHTTPStatus: httpCode), "HTTP status \(httpCode) instead of a gRPC response"))
        }
        guard let contentType = Self.first("content-type", in: fields), contentType.hasPrefix("application/grpc") else {
            server = .closed
            return .abort(RPCError(.unknown, "the response is not gRPC (content-type missing or not application/grpc)"))
        }
        if endStream {
            server = .closed
            let status = Self.status(fields)
            let metadata = GRPCWire.metadata(from: fields)
            return .finished(status, trailers: metadata, initialMetadata: status.code == .ok ? metadata : nil)
        }
        switch Self.first("grpc-encoding", in: fields) {
        case nil, "identity": break
        case "gzip": deframer.gzip = true
        case let other?:
            server = .closed
            return .abort(RPCError(.internal, "the server uses grpc-encoding '\(other)', which this client does not speak"))
        }
        server = .open
        return .initialMetadata(GRPCWire.metadata(from: fields))
    }

    /// Client: END_STREAM without trailers. The status to end the call with, nil when over.
    public mutating func receiveEndOfResponse() -> RPCError? {
        assert(role == .client)
        guard !isFinished else { return nil }
        server = .closed
        return RPCError(.internal, "the server ended the stream without trailers")
    }

    /// Client: the stream closed (RST_STREAM or the end of the exchange) with an HTTP/2
    /// error code. The status to end the call with, nil when it was already over.
    public mutating func streamClosed(errorCode: UInt32) -> RPCError? {
        guard !isFinished else { return nil }
        server = .closed
        return switch errorCode {
        case HTTP2ErrorCode.refusedStream: RPCError(.unavailable, "the server refused the stream")
        case HTTP2ErrorCode.cancel: RPCError(.cancelled, "the server cancelled the stream")
        case HTTP2ErrorCode.enhanceYourCalm: RPCError(.resourceExhausted, "the server asked to slow down (ENHANCE_YOUR_CALM)")
        default: RPCError(.internal, "the stream closed before the call finished (HTTP/2 error \(errorCode))")
        }
    }

    /// The status a trailers block (or a trailers-only response) carries.
    static func status(_ fields: [(String, String)]) -> RPCError {
        guard let text = first("grpc-status", in: fields) else {
            return RPCError(.internal, "the server ended the call without a grpc-status")
        }
        let code = Int32(text).flatMap(StatusCode.init(rawValue:)) ?? .unknown
        return RPCError(code, first("grpc-message", in: fields).map(GRPCWire.percentDecode) ?? "", metadata: GRPCWire.metadata(from: fields))
    }

    /// gRPC's mapping of HTTP statuses (doc/http-grpc-status-mapping.md).
    public static func code(forHTTPStatus status: Int) -> StatusCode {
        switch status {
        case 400: .internal
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .unimplemented
        case 429, 502, 503, 504: .unavailable
        default: .unknown
        }
    }
}
