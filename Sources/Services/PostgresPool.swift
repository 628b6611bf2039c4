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

    /// Runs `body` with a connection. A connection found broken by `body` (the server
    /// restarted since it was opened) is replaced and `body` runs once more on a new one, so
    /// `body` must be safe to repeat (a read, or a transaction that rolled back).
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let index = next.add(1, ordering: .relaxed).oldValue % queues.count
        return try await withCheckedThrowingContinuation { continuation in
            queues[index].async {
                continuation.resume(with: Result { try self.run(body, on: index) })
            }
        }
    }

    /// On queue `index` only.
    private func run<T>(_ body: (PostgresConnection) throws -> T, on index: Int) throws -> T {
        var reused = false
        for _ in 0..<2 {
            let connection: PostgresConnection
            if let existing = connections[index], existing.isHealthy {
                connection = existing
                reused = true
            } else {
                connections[index] = nil
                connection = try PostgresConnection(url: url)
                connections[index] = connection
                reused = false
            }
            do {
                return try body(connection)
            } catch let error as PostgresError where error.kind == .connection {
                connections[index] = nil
                if !reused { throw error }
            }
        }
        throw PostgresError(kind: .connection, sqlState: "", message: "connection lost twice")
    }
}
