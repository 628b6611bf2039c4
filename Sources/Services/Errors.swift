import Domain
import EventLog
import RPCCore
import Store

/// The one place where failures become gRPC statuses.
enum ServiceError {
    static func status(_ error: any Error) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case let error as DomainError:
            switch error {
            case .invalidArgument(let field, let reason): return RPCError(.invalidArgument, "\(field) \(reason)")
            case .failedPrecondition(let message): return RPCError(.failedPrecondition, message)
            case .inconsistentEvent(let message): return RPCError(.internal, "inconsistent event: \(message)")
            case .notFound(let message): return RPCError(.notFound, message)
            }
        case let error as KafkaError:
            if error.possiblyPersisted {
                return RPCError(.unavailable, "the event log did not confirm the write (\(error.message)); it may have been recorded: retry with the same request_id")
            }
            return RPCError(.unavailable, "event log unavailable: \(error.message); nothing was recorded, retry")
        case let error as PostgresError:
            switch error.kind {
            case .connection: return RPCError(.unavailable, "database unavailable: \(error.message)")
            case .statement: return RPCError(.internal, "database error: \(error)")
            }
        default:
            return RPCError(.internal, "\(error)")
        }
    }

    /// Runs a handler body, mapping whatever it throws.
    static func mapping<T>(_ body: () async throws -> T) async throws(RPCError) -> T {
        do {
            return try await body()
        } catch {
            throw status(error)
        }
    }
}
