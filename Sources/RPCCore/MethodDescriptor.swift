public import ProtoCodec

/// How many messages flow each way in a call.
public enum RPCKind: String, Sendable, Hashable {
    case unary
    case serverStreaming
    case clientStreaming
    case bidirectionalStreaming

    /// The client sends a stream of messages.
    public var clientStreams: Bool { self == .clientStreaming || self == .bidirectionalStreaming }
    /// The server answers with a stream of messages.
    public var serverStreams: Bool { self == .serverStreaming || self == .bidirectionalStreaming }
}

/// One method of a service, as it appears on the wire.
public struct MethodDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// Fully qualified service name, for example `ultracore.holdings.v1.HoldingsService`.
    public let service: String
    /// Method name, for example `OpenPosition`.
    public let method: String
    /// Streaming shape.
    public let kind: RPCKind
    /// Proto names of the request and response messages.
    public let requestType: String
    public let responseType: String

    public init(service: String, method: String, kind: RPCKind, requestType: String, responseType: String) {
        self.service = service
        self.method = method
        self.kind = kind
        self.requestType = requestType
        self.responseType = responseType
    }

    /// The HTTP/2 `:path` of the method: `/ultracore.holdings.v1.HoldingsService/OpenPosition`.
    public var path: String { "/\(service)/\(method)" }
    public var description: String { path }
}

/// A method with its request and response types.
public struct RPCMethod<Request: ProtoMessage, Response: ProtoMessage>: Sendable {
    public let descriptor: MethodDescriptor

    public init(service: String, method: String, kind: RPCKind) {
        descriptor = MethodDescriptor(
            service: service, method: method, kind: kind,
            requestType: Request.protoMessageName, responseType: Response.protoMessageName)
    }
}

/// A service: its name, its methods, and the proto file that defines it.
public struct ServiceDescriptor: Sendable, Hashable {
    public let name: String
    public let methods: [MethodDescriptor]
    /// Path of the defining `.proto` file, for example `ultracore/holdings/v1/holdings.proto`.
    public let protoFile: String

    public init(name: String, methods: [MethodDescriptor], protoFile: String) {
        self.name = name
        self.methods = methods
        self.protoFile = protoFile
    }
}

/// A `.proto` file as compiled by protoc: what server reflection serves.
public struct ProtoFileDescriptor: Sendable {
    /// Path as imported, for example `ultracore/holdings/v1/holdings.proto`.
    public let name: String
    /// The files it imports, by name.
    public let dependencies: [String]
    /// Fully qualified names it defines: packages' messages, enums, services and methods.
    public let symbols: [String]
    private let base64: String

    public init(name: String, dependencies: [String], symbols: [String], base64: String) {
        self.name = name
        self.dependencies = dependencies
        self.symbols = symbols
        self.base64 = base64
    }

    /// The serialized `google.protobuf.FileDescriptorProto` (no source info).
    public var serialized: [UInt8] { Base64.decode(base64) ?? [] }
}
