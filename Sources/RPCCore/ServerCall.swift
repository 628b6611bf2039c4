import ProtoCodec
import Synchronization

/// What a handler knows about its call besides the messages.
public struct ServerContext: Sendable {
    /// The method called.
    public let method: MethodDescriptor
    /// Request metadata (custom headers).
    public let metadata: Metadata
    /// When the client stops waiting (`grpc-timeout`); nil when it set none.
    public let deadline: ContinuousClock.Instant?
    /// The peer's address, for logs.
    public let peer: String
    /// What the handler sends besides messages: response metadata and compression.
    public let response: ResponseOptions
    /// How the request messages arrived.
    public let request: RequestInfo
    /// The client certificate the peer presented over TLS, verified or not; nil without one.
    public let peerCertificate: PeerCertificate?
    /// Who is calling, as the server's call guard admitted them; nil for open methods
    /// (health) and on servers without a guard.
    public var principal: Principal?
    /// What the handler learned for the audit trail (client, request id).
    public let audit: CallAudit

    public init(
        method: MethodDescriptor, metadata: Metadata = Metadata(), deadline: ContinuousClock.Instant? = nil, peer: String = "",
        response: ResponseOptions = ResponseOptions(), request: RequestInfo = RequestInfo(), peerCertificate: PeerCertificate? = nil,
        principal: Principal? = nil, audit: CallAudit = CallAudit()
    ) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.peer = peer
        self.response = response
        self.request = request
        self.peerCertificate = peerCertificate
        self.principal = principal
        self.audit = audit
    }
}

/// How the request messages of a call arrived, as far as a handler may care.
public final class RequestInfo: Sendable {
    private let compressed = Atomic<Bool>(false)

    public init() {}

    /// Whether the message the handler read last came compressed on the wire.
    public var lastMessageWasCompressed: Bool { compressed.load(ordering: .relaxed) }

    /// Set by the transport as each message is read.
    public func recordMessage(compressed: Bool) { self.compressed.store(compressed, ordering: .relaxed) }
}

/// Response metadata and compression a handler chooses. Initial metadata goes out with
/// the first message (or with the status when there is none): set it before writing.
public final class ResponseOptions: Sendable {
    private struct State {
        var initialMetadata = Metadata()
        var trailingMetadata = Metadata()
        var compress = false
    }
    private let state = Mutex(State())

    public init() {}

    /// Metadata sent in the response headers.
    public var initialMetadata: Metadata {
        get { state.withLock { $0.initialMetadata } }
        set { state.withLock { $0.initialMetadata = newValue } }
    }

    /// Metadata sent in the trailers with the status (merged with an RPCError's).
    public var trailingMetadata: Metadata {
        get { state.withLock { $0.trailingMetadata } }
        set { state.withLock { $0.trailingMetadata = newValue } }
    }

    /// Compress response messages with gzip when the client accepts it (a message
    /// written with `compress: false` still goes uncompressed).
    public var compress: Bool {
        get { state.withLock { $0.compress } }
        set { state.withLock { $0.compress = newValue } }
    }
}

/// The messages a client sends on a call, in order; iteration ends when the client
/// half-closes, and throws when the call fails.
public struct RequestStream<Element: Sendable>: AsyncSequence, Sendable {
    private let nextElement: @Sendable () async throws -> Element?

    /// - Parameter next: returns the next message, or nil at the end of the stream.
    public init(next: @escaping @Sendable () async throws -> Element?) {
        nextElement = next
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextElement: @Sendable () async throws -> Element?
        public mutating func next() async throws -> Element? { try await nextElement() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextElement: nextElement) }

    /// The stream with each element transformed.
    public func map<T: Sendable>(_ transform: @escaping @Sendable (Element) throws -> T) -> RequestStream<T> {
        let source = nextElement
        return RequestStream<T> { try await source().map(transform) }
    }
}

/// Where a handler writes the messages of its response stream. A write suspends while
/// the transport's buffer is full (flow control) and throws when the call has ended.
public struct ResponseWriter<Element: Sendable>: Sendable {
    private let writeElement: @Sendable (Element, _ compress: Bool?) async throws -> Void

    /// - Parameter write: sends an element; `compress` overrides the call's choice for it.
    public init(write: @escaping @Sendable (Element, _ compress: Bool?) async throws -> Void) {
        writeElement = write
    }

    public func write(_ element: Element) async throws {
        try await writeElement(element, nil)
    }

    /// Writes one message compressed or not, whatever the call's setting.
    public func write(_ element: Element, compress: Bool) async throws {
        try await writeElement(element, compress)
    }

    public func map<T: Sendable>(_ transform: @escaping @Sendable (T) -> Element) -> ResponseWriter<T> {
        let sink = writeElement
        return ResponseWriter<T> { try await sink(transform($0), $1) }
    }
}

/// A service implementation as the transport sees it: one handler per method path.
public protocol RPCService: Sendable {
    var serviceDescriptor: ServiceDescriptor { get }
    var methodHandlers: [ServerMethodHandler] { get }
}

/// A method handler working on serialized messages; the typed adapters below decode
/// requests (INVALID_ARGUMENT naming the message when they do not parse) and encode
/// responses.
public struct ServerMethodHandler: Sendable {
    public let method: MethodDescriptor
    public let handle: @Sendable (RequestStream<[UInt8]>, ResponseWriter<[UInt8]>, ServerContext) async throws -> Void

    public init(
        method: MethodDescriptor,
        handle: @escaping @Sendable (RequestStream<[UInt8]>, ResponseWriter<[UInt8]>, ServerContext) async throws -> Void
    ) {
        self.method = method
        self.handle = handle
    }

    static func decode<Request: ProtoMessage>(_ bytes: [UInt8], as type: Request.Type) throws(RPCError) -> Request {
        do {
            return try Request(serializedBytes: bytes)
        } catch {
            throw RPCError(.invalidArgument, "request is not a valid \(Request.protoMessageName): \(error)")
        }
    }

    static func single<Request: ProtoMessage>(_ requests: RequestStream<[UInt8]>, as type: Request.Type) async throws -> Request {
        var iterator = requests.makeAsyncIterator()
        guard let first = try await iterator.next() else {
            throw RPCError(.internal, "the client closed the call without sending its request message")
        }
        guard try await iterator.next() == nil else {
            throw RPCError(.internal, "the client sent more than one request message on a unary-request call")
        }
        return try decode(first, as: Request.self)
    }

    static func typed<Request: ProtoMessage>(_ requests: RequestStream<[UInt8]>, as type: Request.Type) -> RequestStream<Request> {
        requests.map { bytes in try decode(bytes, as: Request.self) }
    }

    public static func unary<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ body: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) -> ServerMethodHandler {
        ServerMethodHandler(method: method.descriptor) { requests, responses, context in
            let request = try await single(requests, as: Request.self)
            try await responses.write(try await body(request, context).serializedBytes())
        }
    }

    public static func serverStreaming<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ body: @escaping @Sendable (Request, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> ServerMethodHandler {
        ServerMethodHandler(method: method.descriptor) { requests, responses, context in
            let request = try await single(requests, as: Request.self)
            try await body(request, responses.map { $0.serializedBytes() }, context)
        }
    }

    public static func clientStreaming<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ body: @escaping @Sendable (RequestStream<Request>, ServerContext) async throws -> Response
    ) -> ServerMethodHandler {
        ServerMethodHandler(method: method.descriptor) { requests, responses, context in
            try await responses.write(try await body(typed(requests, as: Request.self), context).serializedBytes())
        }
    }

    public static func bidirectionalStreaming<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ body: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> ServerMethodHandler {
        ServerMethodHandler(method: method.descriptor) { requests, responses, context in
            try await body(typed(requests, as: Request.self), responses.map { $0.serializedBytes() }, context)
        }
    }
}
