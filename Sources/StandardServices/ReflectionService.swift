import HoldingsProto
import RPCCore

/// `grpc.reflection.v1.ServerReflection` and its predecessor `v1alpha` (same messages,
/// same field numbers: the v1alpha service decodes its bytes as v1 messages). Serves the
/// FileDescriptorProtos protoc compiled for the server's services: list services, file by
/// filename and file containing symbol, each file with its transitive imports. Unknown
/// names get an error response with NOT_FOUND in the stream, which stays open.
public struct ReflectionService: Sendable {
    public typealias Request = Grpc_Reflection_V1_ServerReflectionRequest
    public typealias Response = Grpc_Reflection_V1_ServerReflectionResponse

    private let files: [String: ProtoFileDescriptor]
    /// Each file's FileDescriptorProto bytes, decoded once.
    private let serialized: [String: [UInt8]]
    private let fileBySymbol: [String: String]
    private let serviceNames: [String]

    /// - Parameters:
    ///   - files: every compiled file the services need (imports included).
    ///   - services: fully qualified names of the services to list.
    public init(files: [ProtoFileDescriptor], services: [String]) {
        var byName: [String: ProtoFileDescriptor] = [:]
        var bySymbol: [String: String] = [:]
        for file in files {
            byName[file.name] = file
            for symbol in file.symbols { bySymbol[symbol] = file.name }
        }
        self.files = byName
        serialized = byName.mapValues(\.serialized)
        fileBySymbol = bySymbol
        serviceNames = services.sorted()
    }

    /// The v1 and v1alpha services.
    public var services: [any RPCService] { [V1(core: self), V1Alpha(core: self)] }

    /// `name` and the files it imports, transitively, `name` first.
    private func closure(of name: String) -> [[UInt8]] {
        var order: [String] = []
        var seen = Set<String>()
        func visit(_ file: String) {
            guard seen.insert(file).inserted, let descriptor = files[file] else { return }
            order.append(file)
            descriptor.dependencies.forEach(visit)
        }
        visit(name)
        return order.compactMap { serialized[$0] }
    }

    private func notFound(_ message: String) -> Response.MessageResponse {
        var error = Grpc_Reflection_V1_ErrorResponse()
        error.errorCode = StatusCode.notFound.rawValue
        error.errorMessage = message
        return .errorResponse(error)
    }

    private func fileResponse(_ name: String) -> Response.MessageResponse {
        var response = Grpc_Reflection_V1_FileDescriptorResponse()
        response.fileDescriptorProto = closure(of: name)
        return .fileDescriptorResponse(response)
    }

    /// The answer to one request.
    public func answer(_ request: Request) -> Response {
        var response = Response()
        response.validHost = request.host
        response.originalRequest = request
        switch request.messageRequest {
        case .fileByFilename(let name)?:
            response.messageResponse = files[name] == nil ? notFound("no file named '\(name)'") : fileResponse(name)
        case .fileContainingSymbol(let symbol)?:
            let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
            if let file = fileBySymbol[trimmed] {
                response.messageResponse = fileResponse(file)
            } else {
                response.messageResponse = notFound("no symbol named '\(symbol)'")
            }
        case .fileContainingExtension(let request)?:
            response.messageResponse = notFound("no extension \(request.extensionNumber) of '\(request.containingType)': the files define no extensions")
        case .allExtensionNumbersOfType(let type)?:
            if fileBySymbol[type] != nil {
                var numbers = Grpc_Reflection_V1_ExtensionNumberResponse()
                numbers.baseTypeName = type
                response.messageResponse = .allExtensionNumbersResponse(numbers)
            } else {
                response.messageResponse = notFound("no message type named '\(type)'")
            }
        case .listServices?:
            var list = Grpc_Reflection_V1_ListServiceResponse()
            list.service = serviceNames.map { name in
                var service = Grpc_Reflection_V1_ServiceResponse()
                service.name = name
                return service
            }
            response.messageResponse = .listServicesResponse(list)
        case nil:
            var error = Grpc_Reflection_V1_ErrorResponse()
            error.errorCode = StatusCode.invalidArgument.rawValue
            error.errorMessage = "the request names no question (message_request is empty)"
            response.messageResponse = .errorResponse(error)
        }
        return response
    }

    struct V1: Grpc_Reflection_V1_ServerReflection.ServiceProtocol {
        let core: ReflectionService
        func serverReflectionInfo(
            requests: RequestStream<Request>, response: ResponseWriter<Response>, context: ServerContext
        ) async throws {
            for try await request in requests { try await response.write(core.answer(request)) }
        }
    }

    struct V1Alpha: Grpc_Reflection_V1alpha_ServerReflection.ServiceProtocol {
        let core: ReflectionService
        func serverReflectionInfo(
            requests: RequestStream<Grpc_Reflection_V1alpha_ServerReflectionRequest>,
            response: ResponseWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>, context: ServerContext
        ) async throws {
            for try await request in requests {
                let answer = core.answer(try Request(serializedBytes: request.serializedBytes()))
                try await response.write(try Grpc_Reflection_V1alpha_ServerReflectionResponse(serializedBytes: answer.serializedBytes()))
            }
        }
    }
}
