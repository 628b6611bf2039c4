import ArgumentParser
import Foundation
import GRPCClient
import ProtoCodec
import RPCCore

// The runtime of the generated per-method commands (Generated/cli): the options of a command
// become a proto3 JSON object, read by the generated JSON codec of the request (one reader
// checks every value, for the command line as for REST), the call goes out on the gRPC
// channel, and the answer is printed as tables (or as JSON with --json).

/// `--request`: the whole request as proto3 JSON, under the options of a typed command.
public struct RequestInput: ParsableArguments {
    public init() {}

    @Option(name: .customLong("request"),
            help: ArgumentHelp("The whole request as proto3 JSON: text, @FILE, or - for stdin. Options given as well override its fields.",
                               valueName: "json"))
    public var request: String?
}

/// The text of an argument that may name a file (`@FILE`) or stdin (`-`).
public func argumentText(_ argument: String, name: String) throws -> Data {
    if argument == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    if argument.hasPrefix("@") {
        let path = String(argument.dropFirst())
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(name): cannot read \(path)") }
        return data
    }
    return Data(argument.utf8)
}

/// A time as the command line takes it, as RFC 3339 text: RFC 3339 as given, or a bare date
/// (`2026-01-31`) meaning midnight UTC.
public func rfc3339Text(_ text: String) -> String {
    let isDate = text.count == 10 && text.range(of: "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", options: .regularExpression) != nil
    return isDate ? text + "T00:00:00Z" : text
}

/// A stable hex digest of `text` (FNV-1a, 64 bits), for request ids derived from what a
/// command sends, so that sending it again is recognised as a retry.
public func stableDigest(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return String(hash, radix: 16)
}

/// The values the options of a command give, as the request's proto3 JSON fields.
public struct RequestFields {
    /// The option and the proto name of each field, by JSON name.
    public let options: [String: (option: String, protoName: String)]
    public private(set) var values: [String: JSONValue] = [:]

    public init(options: [String: (option: String, protoName: String)]) {
        self.options = options
    }

    public mutating func scalar(_ json: String, _ value: String?) {
        if let value { values[json] = .string(value) }
    }

    public mutating func scalars(_ json: String, _ list: [String]) {
        if !list.isEmpty { values[json] = .array(list.map { .string($0) }) }
    }

    public mutating func flag(_ json: String, _ set: Bool) {
        if set { values[json] = .bool(true) }
    }

    /// An enum value by its full name or without its prefix (`FIFO` for `COST_BASIS_METHOD_FIFO`),
    /// in any case, `-` for `_` (`specific-id`).
    static func enumName(_ text: String, option: String, values: [String], prefix: String) throws -> String {
        let upper = text.uppercased().replacingOccurrences(of: "-", with: "_")
        if let name = values.first(where: { $0 == upper || $0 == prefix + upper }) { return name }
        let short = values.map { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : $0 }
        throw ValidationError("\(option) is one of \(short.joined(separator: ", ")), not \(text)")
    }

    public mutating func enumeration(_ json: String, _ value: String?, option: String, values names: [String], prefix: String) throws {
        if let value { values[json] = .string(try Self.enumName(value, option: option, values: names, prefix: prefix)) }
    }

    public mutating func enumerations(_ json: String, _ list: [String], option: String, values names: [String], prefix: String) throws {
        if !list.isEmpty { values[json] = .array(try list.map { .string(try Self.enumName($0, option: option, values: names, prefix: prefix)) }) }
    }

    static func time(_ text: String) -> JSONValue { .string(rfc3339Text(text)) }

    public mutating func timestamp(_ json: String, _ value: String?) {
        if let value { values[json] = Self.time(value) }
    }

    public mutating func timestamps(_ json: String, _ list: [String]) {
        if !list.isEmpty { values[json] = .array(list.map(Self.time)) }
    }

    static func object(_ text: String, option: String) throws -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(try argumentText(text, name: option))
        } catch let error as ProtoJSONError {
            throw ValidationError("\(option): \(error.description)")
        }
        return value
    }

    public mutating func message(_ json: String, _ value: String?, option: String) throws {
        if let value { values[json] = try Self.object(value, option: option) }
    }

    public mutating func messages(_ json: String, _ list: [String], option: String) throws {
        if !list.isEmpty { values[json] = .array(try list.map { try Self.object($0, option: option) }) }
    }

    /// Map entries given as KEY=VALUE, the value JSON when the map holds messages.
    public mutating func map(_ json: String, _ entries: [String], option: String, jsonValues: Bool) throws {
        guard !entries.isEmpty else { return }
        var object: [String: JSONValue] = [:]
        for entry in entries {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("\(option) takes KEY=VALUE, not \(entry)")
            }
            let key = String(entry[..<equals])
            let value = String(entry[entry.index(after: equals)...])
            guard object[key] == nil else { throw ValidationError("\(option) names \(key) twice") }
            object[key] = jsonValues ? try Self.object(value, option: option) : .string(value)
        }
        values[json] = .object(object)
    }
}

/// The run of one generated command: build the request, call, print.
public enum MethodCommand {
    public static func run<Request: ProtoJSONMessage, Response: ProtoJSONMessage>(
        _ method: MethodDescriptor, request: Request.Type, response: Response.Type, fields: RequestFields, input: RequestInput,
        connection: Connection, shapes: [String: [CLIShapeField]], newRequestId: Bool
    ) async throws {
        let message = try buildRequest(Request.self, fields: fields, input: input, newRequestId: newRequestId)
        let printer = AnswerPrinter(shapes: shapes)
        try await invoke(method, requestBytes: message.serializedBytes(), connection: connection) { bytes in
            let answer = try Response(serializedBytes: bytes)
            if connection.json {
                try connection.printJSON(answer, pretty: !method.kind.serverStreams)
            } else {
                let value = try JSONValue.parse(try answer.jsonBytes())
                if method.kind.serverStreams {
                    emit(printer.line(value, message: Response.protoMessageName))
                } else {
                    printer.print(value, message: Response.protoMessageName)
                }
            }
        }
    }

    /// The request of the options over `--request`; an idempotency key is made up when the
    /// request has one and it is not given. Errors name the option at fault.
    public static func buildRequest<Request: ProtoJSONMessage>(
        _ type: Request.Type, fields: RequestFields, input: RequestInput, newRequestId: Bool
    ) throws -> Request {
        var object: [String: JSONValue] = [:]
        if let base = input.request {
            guard case .object(let given) = try RequestFields.object(base, option: "--request") else {
                throw ValidationError("--request must be a JSON object")
            }
            object = given
        }
        for (name, value) in fields.values {
            // An option overrides the field, whichever name --request gave it by.
            if let protoName = fields.options[name]?.protoName { object[protoName] = nil }
            object[name] = value
        }
        if newRequestId, object["requestId"] == nil, object["request_id"] == nil {
            object["requestId"] = .string(UUID().uuidString.lowercased())
        }
        do {
            return try Request(protoJSON: .object(object), options: ProtoJSONOptions())
        } catch {
            if let first = error.path.first, let option = fields.options[first]?.option, fields.values[first] != nil {
                let rest = ProtoJSONError(path: Array(error.path.dropFirst()), error.reason)
                throw ValidationError("\(option): \(rest.path.isEmpty ? rest.reason : rest.description)")
            }
            throw ValidationError("the request (\(Request.protoMessageName)): \(error.description)")
        }
    }

    /// Calls `method` with an encoded request and hands each answer to `each` (one for a
    /// unary call, every message of a server stream). A failed call exits with its code.
    public static func invoke(_ method: MethodDescriptor, requestBytes: [UInt8], connection: Connection,
                              each: ([UInt8]) throws -> Void) async throws {
        var options = connection.options
        if method.kind.serverStreams { options.timeout = nil }
        try await connection.run { channel in
            let stream = try await channel.openStream(method, options: options)
            try? await stream.send(requestBytes, compress: nil)
            await stream.closeSend()
            while let bytes = try await stream.receive() { try each(bytes) }
        }
    }
}

/// One field of a message's shape: its JSON name and what it holds, for printing.
public struct CLIShapeField: Sendable {
    public let json: String
    /// Full name of the message type of a message field (not Timestamps).
    public let message: String?
    /// The prefix of an enum field's value names, left out when printed.
    public let enumPrefix: String?
    public let map: Bool
    /// How the field is printed at its default value, which proto3 JSON leaves out (numbers,
    /// bools and enums; nil for the others, which are then not printed).
    public let zero: String?

    public init(_ json: String, message: String? = nil, enumPrefix: String? = nil, map: Bool = false, zero: String? = nil) {
        self.json = json
        self.message = message
        self.enumPrefix = enumPrefix
        self.map = map
        self.zero = zero
    }
}

/// Prints an answer for people: its scalar fields as `name  value` lines in declaration order
/// (nested messages flattened as `a.b`), then each list of messages as a table.
public struct AnswerPrinter {
    public let shapes: [String: [CLIShapeField]]

    public init(shapes: [String: [CLIShapeField]]) {
        self.shapes = shapes
    }

    /// A value as one cell: enum names without their prefix, lists joined, maps as k=v.
    func cell(_ value: JSONValue, _ field: CLIShapeField) -> String {
        switch value {
        case .null: return ""
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .uint(let number): return String(number)
        case .double(let number): return String(number)
        case .string(let text):
            if let prefix = field.enumPrefix, text.hasPrefix(prefix) { return String(text.dropFirst(prefix.count)) }
            return text
        case .array(let elements):
            if field.message != nil { return "[\(elements.count)]" }
            return elements.map { cell($0, field) }.joined(separator: ", ")
        case .object(let members):
            if field.map {
                let scalarField = CLIShapeField(field.json)
                return members.keys.sorted().map { "\($0)=\(cell(members[$0] ?? .null, scalarField))" }.joined(separator: ", ")
            }
            return "{…}"
        }
    }

    /// The scalar cells of a message, nested messages flattened, and its lists of messages.
    func flatten(_ value: JSONValue, message: String, prefix: String = "")
        -> (cells: [(String, String)], tables: [(String, String, [JSONValue])]) {
        guard case .object(let members) = value else { return ([], []) }
        var cells: [(String, String)] = []
        var tables: [(String, String, [JSONValue])] = []
        let shape = shapes[message] ?? members.keys.sorted().map { CLIShapeField($0) }
        for field in shape {
            let name = prefix + field.json
            guard let member = members[field.json] else {
                if let zero = field.zero { cells.append((name, zero)) }
                continue
            }
            switch (member, field.message) {
            case (.object, .some(let type)) where !field.map:
                let inner = flatten(member, message: type, prefix: name + ".")
                cells += inner.cells
                tables += inner.tables
            case (.array(let elements), .some(let type)) where !field.map:
                tables.append((name, type, elements))
            default:
                cells.append((name, cell(member, field)))
            }
        }
        return (cells, tables)
    }

    /// A unary answer: `name  value` lines, then a table per list.
    public func print(_ value: JSONValue, message: String) {
        let (cells, tables) = flatten(value, message: message)
        if cells.isEmpty && tables.isEmpty { emit("(an empty answer: every field has its default value)") }
        let width = cells.map(\.0.count).max() ?? 0
        for (name, text) in cells { emit(name + String(repeating: " ", count: width - name.count) + "  " + text) }
        for (title, type, rows) in tables {
            emit("")
            emit("\(title) (\(rows.count))")
            guard !rows.isEmpty else { continue }
            var columns: [String] = []
            var lines: [[String: String]] = []
            for row in rows {
                var line: [String: String] = [:]
                let (cells, lists) = flatten(row, message: type)
                for (name, text) in cells {
                    if !columns.contains(name) { columns.append(name) }
                    line[name] = text
                }
                for (name, _, elements) in lists {
                    if !columns.contains(name) { columns.append(name) }
                    line[name] = "[\(elements.count)]"
                }
                lines.append(line)
            }
            printTable(columns, lines.map { line in columns.map { line[$0] ?? "" } })
        }
    }

    /// A message of a stream, on one line: `name=value` pairs.
    public func line(_ value: JSONValue, message: String) -> String {
        let (cells, tables) = flatten(value, message: message)
        return (cells.map { "\($0.0)=\($0.1)" } + tables.map { "\($0.0)=[\($0.2.count)]" }).joined(separator: " ")
    }
}

/// Shows the progress of long work: a bar redrawn in place on a terminal, plain lines when
/// piped. On stderr when stdout carries the work's output.
public struct Progress {
    /// Steps in all; 0 when unknown (a count is shown instead of a bar).
    public let total: Int
    let handle: FileHandle
    public let terminal: Bool

    public init(total: Int, standardError: Bool = false) {
        self.total = total
        handle = standardError ? FileHandle.standardError : FileHandle.standardOutput
        terminal = isatty(standardError ? STDERR_FILENO : STDOUT_FILENO) != 0
    }

    public func step(_ done: Int, _ what: String) {
        fflush(nil)  // what was printed before comes first
        let counted = total > 0 ? "\(done)/\(total)" : "\(done)"
        guard terminal else {
            handle.write(Data("\(counted) \(what)\n".utf8))
            return
        }
        var line = "\r"
        if total > 0 {
            let width = 30
            let filled = min(width, width * max(0, done) / total)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
        }
        handle.write(Data((line + "\(counted) \(what.prefix(50))\u{1B}[K").utf8))
        if total > 0 && done >= total { handle.write(Data("\n".utf8)) }
    }

    /// Ends the bar's line when the total was not known.
    public func finish() {
        if terminal && total <= 0 { handle.write(Data("\n".utf8)) }
    }
}
