internal import CLibPQ

/// A value bound to a statement parameter. Text values are sent in Postgres' text
/// format (numbers, timestamps, arrays as their literal text), bytes as binary (bytea).
public enum PostgresValue: Sendable, Hashable {
    case null
    case text(String)
    case bytes([UInt8])
}

/// What went wrong talking to Postgres.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server cannot be reached or the connection broke: retry later.
        case connection
        /// The server rejected the statement (SQLSTATE says why).
        case statement
    }

    public var kind: Kind
    /// Five-character SQLSTATE when the server sent one ("23505" unique violation, ...).
    public var sqlState: String
    public var message: String

    public init(kind: Kind, sqlState: String, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        sqlState.isEmpty ? "postgres: \(message)" : "postgres [\(sqlState)]: \(message)"
    }
}

/// Rows of a result in text format. `nil` is SQL NULL.
public struct PostgresRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    /// Rows changed by an INSERT/UPDATE/DELETE.
    public var affected: Int
}

/// One libpq connection. Every call blocks the calling thread for a round trip, so a
/// connection belongs to one dedicated thread (the projector's, a store worker's),
/// never to an event loop or the cooperative pool.
///
/// Not `Sendable`: libpq connections are not thread-safe.
public final class PostgresConnection {
    private let connection: OpaquePointer

    /// Connects to `url` (a libpq URI or key=value string). Throws `.connection` when
    /// the server cannot be reached; the half-made connection is freed either way.
    public init(url: String) throws(PostgresError) {
        guard let connection = PQconnectdb(url) else {
            throw PostgresError(kind: .connection, sqlState: "", message: "out of memory")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(kind: .connection, sqlState: "", message: message)
        }
        self.connection = connection
        // Notices (CREATE … IF NOT EXISTS) are not errors; keep them off stderr.
        PQclear(PQexec(connection, "SET client_min_messages TO warning"))
    }

    deinit { PQfinish(connection) }

    /// False once the connection broke; the owner opens a new one.
    public var isHealthy: Bool { PQstatus(connection) == CONNECTION_OK }

    /// Runs one statement with positional parameters `$1…$n`; results in text format.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) throws(PostgresError) -> PostgresRows {
        let count = parameters.count
        // Parameter storage lives until PQexecParams returns.
        var storage: [[CChar]?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        storage.reserveCapacity(count)
        for parameter in parameters {
            switch parameter {
            case .null:
                storage.append(nil); lengths.append(0); formats.append(0)
            case .text(let text):
                storage.append(Array(text.utf8CString)); lengths.append(0); formats.append(0)
            case .bytes(let bytes):
                storage.append(bytes.map { CChar(bitPattern: $0) }); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        let result: OpaquePointer? = withParameterPointers(storage) { values in
            PQexecParams(connection, sql, Int32(count), nil, values, lengths, formats, 0)
        }
        return try Self.rows(of: result, connection: connection)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Runs several statements without parameters (a migration file).
    public func executeScript(_ sql: String) throws(PostgresError) {
        let result = PQexec(connection, sql)
        _ = try Self.rows(of: result, connection: connection)
    }

    private func withParameterPointers<R>(_ storage: [[CChar]?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        // Pointers into `storage` are valid only inside this call; they never escape it.
        var pointers: [UnsafePointer<CChar>?] = []
        pointers.reserveCapacity(storage.count)
        func bind(_ index: Int) -> R {
            if index == storage.count { return body(pointers) }
            guard let element = storage[index] else {
                pointers.append(nil)
                return bind(index + 1)
            }
            return element.withUnsafeBufferPointer { buffer in
                pointers.append(buffer.baseAddress)
                return bind(index + 1)
            }
        }
        return bind(0)
    }

    private static func rows(of result: OpaquePointer?, connection: OpaquePointer) throws(PostgresError) -> PostgresRows {
        guard let result else {
            throw PostgresError(kind: .connection, sqlState: "", message: trimmed(PQerrorMessage(connection)))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            break
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = trimmed(PQresultErrorMessage(result))
            let broken = PQstatus(connection) != CONNECTION_OK || state.hasPrefix("08") || state.hasPrefix("57P")
            throw PostgresError(kind: broken ? .connection : .statement, sqlState: state, message: message)
        }
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            rows.append(values)
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, rows: rows, affected: affected)
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}

extension Set<Character> {
    fileprivate static var whitespacesAndNewlines: Set<Character> { [" ", "\n", "\t", "\r"] }
}

/// Bytea text output (`\x0a0b…`) back to bytes.
public func decodeBytea(_ text: String) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity((utf8.count - 2) / 2)
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    var index = 2
    while index < utf8.count {
        guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

/// Array literal `{"a","b"}` for a text[]-typed parameter; NULL elements as `NULL`.
public func postgresArrayLiteral(_ elements: [String?]) -> String {
    // Built as UTF-8 bytes: '"' and '\\' are single bytes that never occur inside a multi-byte
    // sequence, so escaping byte by byte is exact (appending unicode scalars to a String was
    // an eighth of the projector's time under load).
    let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
    var bytes: [UInt8] = []
    bytes.reserveCapacity(elements.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
    bytes.append(UInt8(ascii: "{"))
    for (index, element) in elements.enumerated() {
        if index > 0 { bytes.append(UInt8(ascii: ",")) }
        guard let element else {
            bytes.append(contentsOf: "NULL".utf8)
            continue
        }
        bytes.append(quote)
        for byte in element.utf8 {
            if byte == quote || byte == backslash { bytes.append(backslash) }
            bytes.append(byte)
        }
        bytes.append(quote)
    }
    bytes.append(UInt8(ascii: "}"))
    return String(decoding: bytes, as: UTF8.self)
}
