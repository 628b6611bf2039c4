import Dispatch
import Foundation
import Store
import Synchronization

/// Blocking Postgres work off the cooperative pool: `size` serial queues, each owning
/// one connection (opened lazily, reopened after it breaks). A call suspends the task
/// and runs on the queue's thread.
///
/// `@unchecked Sendable`: each connection is touched only on its own serial queue.
public final class PostgresPool: @unchecked Sendable {
    private let url: String
    private let queues: [DispatchQueue]
    private var connections: [PostgresConnection?]
    private let next = Atomic<Int>(0)

    public init(url: String, size: Int) {
        self.url = url
        queues = (0..<max(1, size)).map { DispatchQueue(label: "postgres-\($0)") }
        connections = Array(repeating: nil, count: max(1, size))
    }

    /// Runs `body` with a connection; a broken connection is dropped so the next call reconnects.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let index = next.add(1, ordering: .relaxed).oldValue % queues.count
        return try await withCheckedThrowingContinuation { continuation in
            queues[index].async {
                do {
                    let connection: PostgresConnection
                    if let existing = self.connections[index], existing.isHealthy {
                        connection = existing
                    } else {
                        self.connections[index] = nil
                        connection = try PostgresConnection(url: self.url)
                        self.connections[index] = connection
                    }
                    do {
                        continuation.resume(returning: try body(connection))
                    } catch {
                        if !connection.isHealthy { self.connections[index] = nil }
                        throw error
                    }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
