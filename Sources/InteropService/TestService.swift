import GRPCTestingProto
import RPCCore

/// `grpc.testing.TestService` as grpc/grpc `doc/interop-test-descriptions.md` specifies
/// the server side: payloads of zeros of the requested sizes, echoed statuses, echoed
/// metadata (`x-grpc-test-echo-initial`, `x-grpc-test-echo-trailing-bin`), response
/// compression on request, and a check that messages expected compressed came so.
public struct TestService: Grpc_Testing_TestService.ServiceProtocol {
    public init() {}

    static let echoInitial = "x-grpc-test-echo-initial"
    static let echoTrailing = "x-grpc-test-echo-trailing-bin"

    /// Copies the echo headers of the request into the response's metadata.
    static func echoMetadata(_ context: ServerContext) {
        var initial = Metadata()
        for case .string(let value) in context.metadata[echoInitial] { initial.add(echoInitial, value) }
        context.response.initialMetadata = initial
        var trailing = Metadata()
        for case .binary(let bytes) in context.metadata[echoTrailing] { trailing.add(echoTrailing, binary: bytes) }
        context.response.trailingMetadata = trailing
    }

    static func payload(_ size: Int32) throws(RPCError) -> Grpc_Testing_Payload {
        guard size >= 0 else { throw RPCError(.invalidArgument, "payload size \(size) is negative") }
        var payload = Grpc_Testing_Payload()
        payload.body = [UInt8](repeating: 0, count: Int(size))
        return payload
    }

    static func checkStatus(_ status: Grpc_Testing_EchoStatus?) throws(RPCError) {
        guard let status, status.code != 0 else { return }
        guard let code = StatusCode(rawValue: status.code) else {
            throw RPCError(.unknown, status.message)
        }
        throw RPCError(code, status.message)
    }

    static func checkCompression(_ expected: Grpc_Testing_BoolValue?, _ context: ServerContext) throws(RPCError) {
        guard let expected else { return }
        if expected.value && !context.request.lastMessageWasCompressed {
            throw RPCError(.invalidArgument, "the request was expected compressed and was not")
        }
        if !expected.value && context.request.lastMessageWasCompressed {
            throw RPCError(.invalidArgument, "the request was expected uncompressed and was compressed")
        }
    }

    public func emptyCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        Self.echoMetadata(context)
        return Grpc_Testing_Empty()
    }

    public func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        Self.echoMetadata(context)
        try Self.checkCompression(request.expectCompressed, context)
        try Self.checkStatus(request.responseStatus)
        if let compressed = request.responseCompressed { context.response.compress = compressed.value }
        var response = Grpc_Testing_SimpleResponse()
        if request.responseSize > 0 { response.payload = try Self.payload(request.responseSize) }
        return response
    }

    public func cacheableUnaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        try await unaryCall(request: request, context: context)
    }

    static func respond(
        _ parameters: [Grpc_Testing_ResponseParameters], _ response: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>
    ) async throws {
        for parameter in parameters {
            if parameter.intervalUs > 0 { try await Task.sleep(for: .microseconds(parameter.intervalUs)) }
            var message = Grpc_Testing_StreamingOutputCallResponse()
            message.payload = try payload(parameter.size)
            if let compressed = parameter.compressed {
                try await response.write(message, compress: compressed.value)
            } else {
                try await response.write(message)
            }
        }
    }

    public func streamingOutputCall(
        request: Grpc_Testing_StreamingOutputCallRequest, response: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>,
        context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        try await Self.respond(request.responseParameters, response)
        try Self.checkStatus(request.responseStatus)
    }

    public func streamingInputCall(
        requests: RequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext
    ) async throws -> Grpc_Testing_StreamingInputCallResponse {
        Self.echoMetadata(context)
        var total: Int32 = 0
        for try await request in requests {
            try Self.checkCompression(request.expectCompressed, context)
            total &+= Int32(truncatingIfNeeded: request.payload?.body.count ?? 0)
        }
        var response = Grpc_Testing_StreamingInputCallResponse()
        response.aggregatedPayloadSize = total
        return response
    }

    public func fullDuplexCall(
        requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        response: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        for try await request in requests {
            try Self.checkStatus(request.responseStatus)
            try await Self.respond(request.responseParameters, response)
        }
    }

    public func halfDuplexCall(
        requests: RequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        response: ResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        Self.echoMetadata(context)
        var all: [Grpc_Testing_StreamingOutputCallRequest] = []
        for try await request in requests { all.append(request) }
        for request in all {
            try Self.checkStatus(request.responseStatus)
            try await Self.respond(request.responseParameters, response)
        }
    }

    public func unimplementedCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        throw RPCError(.unimplemented, "grpc.testing.TestService/UnimplementedCall is unimplemented by design")
    }
}
