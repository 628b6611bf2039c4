import ProtoCodec

/// Per-call settings of a client call.
public struct CallOptions: Sendable {
    /// How long the client waits; sent as `grpc-timeout` and enforced locally too.
    public var timeout: Duration?
    /// Request metadata.
    public var metadata: Metadata
    /// Compress request messages with gzip.
    public var compressRequests: Bool

    public init(timeout: Duration? = nil, metadata: Metadata = Metadata(), compressRequests: Bool = false) {
        self.timeout = timeout
        self.metadata = metadata
        self.compressRequests = compressRequests
    }
}

/// One call on the wire, in serialized messages: what a transport (``ClientTransport``)
/// gives the typed calls below.
public protocol ClientStream: Sendable {
    /// Sends a request message; suspends while the transport's buffer is full; throws
    /// the call's status when it has ended. `compress` overrides the call's option.
    func send(_ message: [UInt8], compress: Bool?) async throws
    /// Half-closes: no more request messages.
    func closeSend() async
    /// The response headers' metadata; throws the status for a trailers-only response.
    func initialMetadata() async throws -> Metadata
    /// The next response message; nil after an OK status; throws ``RPCError`` for any
    /// other status.
    func receive() async throws -> [UInt8]?
    /// The trailers' metadata, once the call has ended.
    func trailingMetadata() async -> Metadata
    /// Cancels the call (RST_STREAM CANCEL); pending operations end with CANCELLED.
    func cancel()
    /// Whether the response message received last came compressed on the wire.
    var lastResponseWasCompressed: Bool { get }
}

/// Something that opens calls: a channel to a server.
public protocol ClientTransport: Sendable {
    func openStream(_ method: MethodDescriptor, options: CallOptions) async throws -> any ClientStream
}

/// A unary or client-streaming call's result with its metadata.
public struct ClientResponse<Message: Sendable>: Sendable {
    public let message: Message
    public let initialMetadata: Metadata
    public let trailingMetadata: Metadata
}

/// The response stream of a server-streaming or bidirectional call.
public struct ClientResponseStream<Response: ProtoMessage>: AsyncSequence, Sendable {
    let stream: any ClientStream

    public struct AsyncIterator: AsyncIteratorProtocol {
        let stream: any ClientStream
        public mutating func next() async throws -> Response? {
            guard let bytes = try await stream.receive() else { return nil }
            return try ClientCalls.decode(bytes, as: Response.self)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(stream: stream) }
}

/// A call whose client sends a stream of messages.
public struct ClientRequestSender<Request: ProtoMessage>: Sendable {
    let stream: any ClientStream

    public func send(_ request: Request, compress: Bool? = nil) async throws {
        try await stream.send(request.serializedBytes(), compress: compress)
    }

    public func close() async { await stream.closeSend() }
}

/// A server-streaming call in progress.
public struct ServerStreamingCall<Response: ProtoMessage>: Sendable {
    public let stream: any ClientStream
    public init(stream: any ClientStream) { self.stream = stream }
    public var responses: ClientResponseStream<Response> { ClientResponseStream(stream: stream) }
    public func initialMetadata() async throws -> Metadata { try await stream.initialMetadata() }
    public func trailingMetadata() async -> Metadata { await stream.trailingMetadata() }
    public func cancel() { stream.cancel() }
}

/// A client-streaming call in progress: send requests, then ``response()``.
public struct ClientStreamingCall<Request: ProtoMessage, Response: ProtoMessage>: Sendable {
    public let stream: any ClientStream
    public var requests: ClientRequestSender<Request> { ClientRequestSender(stream: stream) }
    public func send(_ request: Request, compress: Bool? = nil) async throws { try await requests.send(request, compress: compress) }
    /// Half-closes and waits for the single response.
    public func response() async throws -> ClientResponse<Response> {
        await stream.closeSend()
        return try await ClientCalls.single(stream, as: Response.self)
    }
    public func cancel() { stream.cancel() }
}

/// A bidirectional call in progress.
public struct BidirectionalStreamingCall<Request: ProtoMessage, Response: ProtoMessage>: Sendable {
    public let stream: any ClientStream
    public var requests: ClientRequestSender<Request> { ClientRequestSender(stream: stream) }
    public var responses: ClientResponseStream<Response> { ClientResponseStream(stream: stream) }
    public func send(_ request: Request, compress: Bool? = nil) async throws { try await requests.send(request, compress: compress) }
    public func closeSend() async { await stream.closeSend() }
    public func initialMetadata() async throws -> Metadata { try await stream.initialMetadata() }
    public func trailingMetadata() async -> Metadata { await stream.trailingMetadata() }
    public func cancel() { stream.cancel() }
}

/// The typed calls generated client stubs make.
public enum ClientCalls {
    static func decode<Message: ProtoMessage>(_ bytes: [UInt8], as type: Message.Type) throws(RPCError) -> Message {
        do {
            return try Message(serializedBytes: bytes)
        } catch {
            throw RPCError(.internal, "response is not a valid \(Message.protoMessageName): \(error)")
        }
    }

    static func single<Response: ProtoMessage>(_ stream: any ClientStream, as type: Response.Type) async throws -> ClientResponse<Response> {
        let initial = try await stream.initialMetadata()
        guard let first = try await stream.receive() else {
            throw RPCError(.unimplemented, "the server ended the call with OK but without a response message")
        }
        guard try await stream.receive() == nil else {
            stream.cancel()
            throw RPCError(.unimplemented, "the server sent more than one response message on a unary-response call")
        }
        return ClientResponse(message: try decode(first, as: Response.self), initialMetadata: initial, trailingMetadata: await stream.trailingMetadata())
    }

    public static func unary<Request, Response>(
        _ transport: any ClientTransport, _ method: RPCMethod<Request, Response>, _ request: Request, options: CallOptions
    ) async throws -> ClientResponse<Response> {
        let stream = try await transport.openStream(method.descriptor, options: options)
        return try await withTaskCancellationHandler {
            // A call that already ended (say, trailers-only UNIMPLEMENTED) refuses the
            // message; its status comes from the response side.
            try? await stream.send(request.serializedBytes(), compress: nil)
            await stream.closeSend()
            return try await single(stream, as: Response.self)
        } onCancel: {
            stream.cancel()
        }
    }

    public static func serverStreaming<Request, Response>(
        _ transport: any ClientTransport, _ method: RPCMethod<Request, Response>, _ request: Request, options: CallOptions
    ) async throws -> ServerStreamingCall<Response> {
        let stream = try await transport.openStream(method.descriptor, options: options)
        try? await stream.send(request.serializedBytes(), compress: nil)  // as in unary
        await stream.closeSend()
        return ServerStreamingCall(stream: stream)
    }

    public static func clientStreaming<Request, Response>(
        _ transport: any ClientTransport, _ method: RPCMethod<Request, Response>, options: CallOptions
    ) async throws -> ClientStreamingCall<Request, Response> {
        ClientStreamingCall(stream: try await transport.openStream(method.descriptor, options: options))
    }

    public static func bidirectionalStreaming<Request, Response>(
        _ transport: any ClientTransport, _ method: RPCMethod<Request, Response>, options: CallOptions
    ) async throws -> BidirectionalStreamingCall<Request, Response> {
        BidirectionalStreamingCall(stream: try await transport.openStream(method.descriptor, options: options))
    }
}
