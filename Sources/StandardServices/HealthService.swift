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
