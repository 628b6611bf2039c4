import HoldingsProto
import RPCCore
import Synchronization

/// `grpc.health.v1.Health`: the serving status of the server ("") and of each service.
public final class HealthService: Grpc_Health_V1_Health.ServiceProtocol {
    public typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus
    private let statuses: Mutex<[String: Status]>

    /// - Parameter services: fully qualified names of the services served; all SERVING.
    public init(services: [String]) {
        var initial: [String: Status] = ["": .serving]
        for service in services { initial[service] = .serving }
        statuses = Mutex(initial)
    }

    /// Changes a service's status ("" is the whole server).
    public func set(_ service: String, _ status: Status) {
        statuses.withLock { $0[service] = status }
    }

    public func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws
        -> Grpc_Health_V1_HealthCheckResponse
    {
        guard let status = statuses.withLock({ $0[request.service] }) else {
            throw RPCError(.notFound, "unknown service '\(request.service)'")
        }
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = status
        return response
    }

    public func watch(
        request: Grpc_Health_V1_HealthCheckRequest, response: ResponseWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        var last: Status?
        while !Task.isCancelled {
            let current = statuses.withLock { $0[request.service] } ?? .serviceUnknown
            if current != last {
                var message = Grpc_Health_V1_HealthCheckResponse()
                message.status = current
                try await response.write(message)
                last = current
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

/// A service of the contract whose methods are not built yet: every call answers
/// UNIMPLEMENTED with a message saying so.
public struct PendingService: RPCService {
    public let serviceDescriptor: ServiceDescriptor

    public init(_ descriptor: ServiceDescriptor) {
        serviceDescriptor = descriptor
    }

    public var methodHandlers: [ServerMethodHandler] {
        serviceDescriptor.methods.map { method in
            ServerMethodHandler(method: method) { _, _, _ in
                throw RPCError(.unimplemented, "\(method.service)/\(method.method) is not implemented yet")
            }
        }
    }
}
