import Foundation

/// Versioned schema changes: `Migrations/NNNN_name.sql`, applied in order, each once,
/// in its own transaction, recorded in `schema_migrations`. Several processes starting
/// together serialize on an advisory lock.
public enum Migrations {
    public struct File: Sendable {
        public var version: Int
        public var name: String
        public var sql: String
    }

    /// The migration files shipped with the service, in version order.
    public static func bundled() throws -> [File] {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw PostgresError(kind: .statement, sqlState: "", message: "migration files missing from the bundle")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var files: [File] = []
        for name in names {
            guard let version = Int(name.prefix { $0.isNumber }) else { continue }
            let sql = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            files.append(File(version: version, name: name, sql: sql))
        }
        files.sort { $0.version < $1.version }
        return files
    }

    /// Applies the files not applied yet; returns the names applied now.
    @discardableResult
    public static func apply(_ files: [File], on connection: PostgresConnection) throws -> [String] {
        try connection.execute("SELECT pg_advisory_lock(727001)")
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock(727001)") }
        try connection.execute("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """)
        let done = Set(try connection.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap { Int($0) } })
        var applied: [String] = []
        for file in files where !done.contains(file.version) {
            try connection.transaction {
                try connection.executeScript(file.sql)
                try connection.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                       [.text(String(file.version)), .text(file.name)])
            }
            applied.append(file.name)
        }
        return applied
    }
}
