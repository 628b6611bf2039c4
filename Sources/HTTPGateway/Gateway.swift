import Dispatch
import Foundation
import GRPCServer
import GRPCTransport
import HoldingsProto
import Hummingbird
import HummingbirdHTTP2
import HTTPTypes
import Logging
import NIOCore
import ProtoCodec
import RPCCore
import Synchronization

/// REST/JSON and the Connect protocol over the same handlers as gRPC, inside holdingsd.
///
/// Every request becomes one call of ``LocalCalls``: the same call guard (tokens, scopes,
/// audit), validation, idempotency and metrics as a gRPC call; only the encoding differs.
/// Routes come from the generated table (`HoldingsHTTPRoutes`, from the protos'
/// `google.api.http` options); JSON is proto3's canonical mapping (generated codecs).
public enum HTTPGateway {
    /// Largest request body accepted, bytes (JSON is larger than the binary message).
    public static let maxBodySize = 8 * 1024 * 1024

    /// Starts serving HTTP/1.1 (or cleartext HTTP/2 with prior knowledge when `http2`) and
    /// returns the port bound once it listens; throws when it cannot bind within 10 s.
    public static func start(host: String, port: Int, http2: Bool, calls: LocalCalls) throws -> Int {
        try HTTPListener.start(port: port, what: "the HTTP gateway") { onRunning, logger in
            Application(
                responder: GatewayResponder(calls: calls), server: http2 ? .plaintextHTTP2() : .http1(),
                configuration: .init(address: .hostname(host, port: port), serverName: "holdingsd"),
                onServerRunning: onRunning, logger: logger)
        }
    }
}

/// Runs a Hummingbird application of holdingsd (the HTTP gateway, the metrics endpoint) on a
/// task of its own, its log lines quieted (holdingsd prints its own).
public enum HTTPListener {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts the application `make` builds and returns the port bound once it listens;
    /// throws when it cannot bind within 10 s.
    public static func start<App: ApplicationProtocol>(
        port: Int, what: String,
        _ make: (_ onRunning: @escaping @Sendable (any Channel) async -> Void, _ logger: Logger) -> App
    ) throws -> Int {
        let outcome = Mutex<Result<Int, StartError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        var logger = Logger(label: "holdingsd.http")
        logger.logLevel = .warning
        let application = make({ channel in
            outcome.withLock { $0 = .success(channel.localAddress?.port ?? port) }
            ready.signal()
        }, logger)
        Task {
            do {
                try await application.runService(gracefulShutdownSignals: [])
            } catch {
                let first = outcome.withLock { result in
                    guard result == nil else { return false }
                    result = .failure(StartError(description: "\(error)"))
                    return true
                }
                if first { ready.signal() } else { print("holdingsd: \(what) stopped: \(error)") }
            }
        }
        guard ready.wait(timeout: .now() + 10) == .success, let result = outcome.withLock({ $0 }) else {
            throw StartError(description: "\(what) did not start within 10 s")
        }
        return try result.get()
    }
}

/// A failed request, answered as the Connect protocol writes errors.
struct GatewayError: Error {
    var status: RPCError
    /// Overrides the HTTP status the code maps to (404 for an unknown route, 405, 413, 415).
    var httpStatus: HTTPResponse.Status?
    var headers: HTTPFields = [:]

    init(_ code: StatusCode, _ message: String, http: HTTPResponse.Status? = nil) {
        status = RPCError(code, message)
        httpStatus = http
    }

    init(_ status: RPCError) {
        self.status = status
    }
}

struct GatewayResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let calls: LocalCalls
    let routes = HoldingsHTTPRoutes.routes
    let connectMethods: [String: HTTPMethodInfo] = Dictionary(
        uniqueKeysWithValues: HoldingsHTTPRoutes.methods.map { ($0.method.path, $0) })

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        do {
            if path == "/openapi.json" {
                guard request.method == .get || request.method == .head else {
                    throw GatewayError(.unimplemented, "/openapi.json answers GET only", http: .methodNotAllowed)
                }
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: ResponseBody(byteBuffer: ByteBuffer(string: HoldingsHTTPRoutes.openAPIDocument)))
            }
            if let method = connectMethods[path] {
                return try await connect(request, method)
            }
            return try await rest(request)
        } catch let error as GatewayError {
            return Self.errorResponse(error)
        } catch {
            return Self.errorResponse(GatewayError(.internal, "the gateway failed: \(error)"))
        }
    }

    // MARK: Errors

    /// The Connect protocol's HTTP status for a gRPC code.
    static func httpStatus(_ code: StatusCode) -> HTTPResponse.Status {
        switch code {
        case .ok: .ok
        case .cancelled: .init(code: 499, reasonPhrase: "Client Closed Request")
        case .unknown, .internal, .dataLoss: .internalServerError
        case .invalidArgument, .failedPrecondition, .outOfRange: .badRequest
        case .deadlineExceeded: .gatewayTimeout
        case .notFound: .notFound
        case .alreadyExists, .aborted: .conflict
        case .permissionDenied: .forbidden
        case .resourceExhausted: .tooManyRequests
        case .unimplemented: .notImplemented
        case .unavailable: .serviceUnavailable
        case .unauthenticated: .unauthorized
        }
    }

    /// The Connect protocol's name of a gRPC code.
    static func connectCode(_ code: StatusCode) -> String {
        code == .cancelled ? "canceled" : code.description.lowercased()
    }

    /// Connect's error object, `{"code": …, "message": …}`, as the next value of `writer`.
    static func writeError(_ status: RPCError, to writer: inout ProtoJSONWriter) {
        writer.beginObject()
        writer.key("code")
        writer.string(connectCode(status.code))
        writer.key("message")
        writer.string(status.message)
        writer.endObject()
    }

    static func errorJSON(_ status: RPCError) -> [UInt8] {
        var writer = ProtoJSONWriter()
        writeError(status, to: &writer)
        return writer.bytes
    }

    static func errorResponse(_ error: GatewayError) -> Response {
        var headers = error.headers
        headers[.contentType] = "application/json"
        addMetadata(error.status.metadata, to: &headers, prefix: "")
        return Response(status: error.httpStatus ?? httpStatus(error.status.code), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: errorJSON(error.status))))
    }

    // MARK: Metadata

    /// Headers that are the transport's or the protocol's, not call metadata.
    static let reservedHeaders: Set<String> = [
        "host", "content-type", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "te",
        "accept", "accept-encoding", "content-encoding", "connect-protocol-version", "connect-timeout-ms",
        "connect-accept-encoding", "connect-content-encoding", "user-agent", "expect", "http2-settings",
        "x-ignore-unknown-fields",
    ]

    /// `X-Ignore-Unknown-Fields: true`: JSON fields (and enum names) this build does not know
    /// are skipped instead of refused.
    static func ignoresUnknown(_ headers: HTTPFields) -> Bool {
        header(headers, "x-ignore-unknown-fields")?.lowercased() == "true"
    }

    /// The first value of the header named `name` (lowercase).
    static func header(_ headers: HTTPFields, _ name: String) -> String? {
        headers.first { $0.name.canonicalName == name }?.value
    }

    static func metadata(_ headers: HTTPFields) throws(GatewayError) -> Metadata {
        var metadata = Metadata()
        for field in headers {
            let name = field.name.canonicalName
            if reservedHeaders.contains(name) || name.hasPrefix("grpc-") || name.hasPrefix(":") { continue }
            if name.hasSuffix("-bin") {
                guard let bytes = Base64.decode(field.value) else {
                    throw GatewayError(.invalidArgument, "header \(name) is not base64")
                }
                metadata.add(name, binary: bytes)
            } else {
                metadata.add(name, field.value)
            }
        }
        return metadata
    }

    static func addMetadata(_ metadata: Metadata, to headers: inout HTTPFields, prefix: String) {
        for entry in metadata.entries {
            guard let name = HTTPField.Name(prefix + entry.key) else { continue }
            switch entry.value {
            case .string(let text): headers.append(HTTPField(name: name, value: text))
            case .binary(let bytes): headers.append(HTTPField(name: name, value: Data(bytes).base64EncodedString()))
            }
        }
    }

    // MARK: Messages

    static func messageType(_ name: String) throws(GatewayError) -> any ProtoJSONMessage.Type {
        guard let type = HoldingsProtoJSON.messageTypes[name] else { throw GatewayError(.internal, "no JSON codec for \(name)") }
        return type
    }

    /// A request body's JSON text, parsed; INVALID_ARGUMENT saying why it is not JSON.
    static func parse(_ body: [UInt8]) throws(GatewayError) -> JSONValue {
        do { return try JSONValue.parse(body) } catch { throw GatewayError(.invalidArgument, "request JSON: \(error.description)") }
    }

    /// JSON (an object tree) to the request's wire bytes.
    static func requestBytes(_ value: JSONValue, type name: String, ignoreUnknown: Bool) throws(GatewayError) -> [UInt8] {
        let type = try messageType(name)
        do {
            return try type.init(protoJSON: value, options: ProtoJSONOptions(ignoreUnknownFields: ignoreUnknown)).serializedBytes()
        } catch {
            throw GatewayError(.invalidArgument, "request JSON: \(error.description)")
        }
    }

    /// A response message's wire bytes to JSON.
    static func responseJSON(_ bytes: [UInt8], type name: String) throws(GatewayError) -> [UInt8] {
        let type = try messageType(name)
        do {
            return try type.init(serializedBytes: bytes).jsonBytes()
        } catch let error as ProtoJSONError {
            throw GatewayError(.internal, "the response does not convert to JSON: \(error.description)")
        } catch {
            throw GatewayError(.internal, "the response does not decode: \(error)")
        }
    }

    static func collectBody(_ request: inout Request) async throws(GatewayError) -> [UInt8] {
        do {
            let buffer = try await request.collectBody(upTo: HTTPGateway.maxBodySize)
            return Array(buffer.readableBytesView)
        } catch {
            throw GatewayError(.resourceExhausted, "the request body is larger than \(HTTPGateway.maxBodySize) bytes", http: .contentTooLarge)
        }
    }

    /// A body or message sent with `encoding` (identity or gzip), inflated.
    static func decode(_ bytes: [UInt8], encoding: String?) throws(GatewayError) -> [UInt8] {
        switch encoding?.lowercased() {
        case nil, "identity", "": return bytes
        case "gzip":
            do {
                return try Gzip.decompress(bytes, limit: HTTPGateway.maxBodySize)
            } catch .tooLarge {
                throw GatewayError(.resourceExhausted, "the request inflates past \(HTTPGateway.maxBodySize) bytes", http: .contentTooLarge)
            } catch {
                throw GatewayError(.invalidArgument, "the request says gzip but is not gzip")
            }
        case let other?:
            throw GatewayError(.unimplemented, "encoding \(other.prefix(20)) is not supported (send identity or gzip)")
        }
    }

    static func timeout(_ headers: HTTPFields) throws(GatewayError) -> Duration? {
        guard let text = header(headers, "connect-timeout-ms") else { return nil }
        guard text.count <= 10, let milliseconds = Int64(text), milliseconds >= 0 else {
            throw GatewayError(.invalidArgument, "Connect-Timeout-Ms must be a whole number of milliseconds (at most 10 digits), not \"\(text.prefix(20))\"")
        }
        return .milliseconds(milliseconds)
    }

    static func peer(_ context: BasicRequestContext) -> String { "http" }

    /// Runs a unary call and gives its one response message.
    func unary(_ method: MethodDescriptor, _ body: [UInt8], metadata: Metadata, timeout: Duration?) async throws(GatewayError) -> ([UInt8], LocalCallOutcome) {
        let collected = Mutex<[UInt8]?>(nil)
        let outcome = await calls.call(path: method.path, metadata: metadata, peer: "http", timeout: timeout, request: body) { message in
            collected.withLock { $0 = message }
        }
        guard outcome.status.code == .ok else {
            var error = GatewayError(outcome.status)
            Self.addMetadata(outcome.initialMetadata, to: &error.headers, prefix: "")
            throw error
        }
        guard let message = collected.withLock({ $0 }) else { throw GatewayError(.internal, "the method answered no message") }
        return (message, outcome)
    }

    // MARK: Connect

    func connect(_ request: Request, _ info: HTTPMethodInfo) async throws(GatewayError) -> Response {
        var request = request
        let headers = request.headers
        if let version = Self.header(headers, "connect-protocol-version"), version != "1" {
            throw GatewayError(.invalidArgument, "Connect-Protocol-Version must be 1, not \"\(version.prefix(20))\"")
        }
        let contentType = (headers[.contentType] ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let method = info.method
        if method.kind.clientStreams {
            throw GatewayError(.unimplemented, "\(method.path) is client streaming: use gRPC", http: .unsupportedMediaType)
        }
        if contentType.hasPrefix("application/connect+") || method.kind.serverStreams {
            return try await connectStreaming(&request, info, contentType: contentType)
        }
        let metadata = try Self.metadata(headers)
        let timeout = try Self.timeout(headers)
        let json: Bool
        let body: [UInt8]
        switch request.method {
        case .post:
            switch contentType {
            case "application/json": json = true
            case "application/proto": json = false
            default:
                throw GatewayError(.invalidArgument, "Content-Type must be application/json or application/proto for a Connect unary call, not \"\(contentType.prefix(60))\"",
                                   http: .unsupportedMediaType)
            }
            body = try Self.decode(try await Self.collectBody(&request), encoding: headers[.contentEncoding])
        case .get:
            guard info.noSideEffects else {
                var error = GatewayError(.unimplemented, "\(method.path) has side effects: call it with POST", http: .methodNotAllowed)
                error.headers[.allow] = "POST"
                throw error
            }
            let query = request.uri.queryParameters
            let encoding = query["encoding"].map(String.init) ?? ""
            switch encoding {
            case "json": json = true
            case "proto": json = false
            default: throw GatewayError(.invalidArgument, "a Connect GET needs encoding=json or encoding=proto, not \"\(encoding.prefix(20))\"")
            }
            let message = query["message"].map(String.init) ?? ""
            var sent = Array(message.utf8)
            if query["base64"] == "1" {
                // URL-safe alphabet, padded or not.
                guard let bytes = Base64.decode(message.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")) else {
                    throw GatewayError(.invalidArgument, "the message parameter is not base64")
                }
                sent = bytes
            }
            body = try Self.decode(sent, encoding: query["compression"].map(String.init))
        default:
            var error = GatewayError(.unimplemented, "Connect calls are POST (or GET for methods without side effects)", http: .methodNotAllowed)
            error.headers[.allow] = info.noSideEffects ? "GET, POST" : "POST"
            throw error
        }
        let requestBytes: [UInt8]
        if json {
            requestBytes = try Self.requestBytes(try Self.parse(body.isEmpty ? Array("{}".utf8) : body), type: method.requestType,
                                                 ignoreUnknown: Self.ignoresUnknown(headers))
        } else {
            requestBytes = body
        }
        let (message, outcome) = try await unary(method, requestBytes, metadata: metadata, timeout: timeout)
        var responseHeaders: HTTPFields = [.contentType: json ? "application/json" : "application/proto"]
        Self.addMetadata(outcome.initialMetadata, to: &responseHeaders, prefix: "")
        Self.addMetadata(outcome.trailingMetadata, to: &responseHeaders, prefix: "trailer-")
        let bytes = json ? try Self.responseJSON(message, type: method.responseType) : message
        return Response(status: .ok, headers: responseHeaders, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The Connect streaming protocol, server streaming: one enveloped request message; the
    /// response is enveloped messages, then an end-of-stream envelope with the status.
    func connectStreaming(_ request: inout Request, _ info: HTTPMethodInfo, contentType: String) async throws(GatewayError) -> Response {
        let method = info.method
        guard request.method == .post else { throw GatewayError(.unimplemented, "Connect streaming calls are POST", http: .methodNotAllowed) }
        let json: Bool
        switch contentType {
        case "application/connect+json": json = true
        case "application/connect+proto": json = false
        default:
            throw GatewayError(.invalidArgument, "a streaming method takes application/connect+json or application/connect+proto, not \"\(contentType.prefix(60))\"",
                               http: .unsupportedMediaType)
        }
        let metadata = try Self.metadata(request.headers)
        let timeout = try Self.timeout(request.headers)
        let body = try await Self.collectBody(&request)
        guard body.count >= 5, body[0] & 0xFE == 0 else {
            throw GatewayError(.invalidArgument, "the request must be one Connect envelope (flags 0 or 1, 4-byte length, message)")
        }
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        guard body.count == 5 + length else { throw GatewayError(.invalidArgument, "the request envelope's length (\(length)) does not match its body") }
        var payload = Array(body[5...])
        if body[0] & 0x01 != 0 {
            guard let encoding = Self.header(request.headers, "connect-content-encoding") else {
                throw GatewayError(.invalidArgument, "a compressed envelope needs Connect-Content-Encoding")
            }
            payload = try Self.decode(payload, encoding: encoding)
        }
        let requestBytes: [UInt8]
        if json {
            requestBytes = try Self.requestBytes(try Self.parse(payload.isEmpty ? Array("{}".utf8) : payload), type: method.requestType,
                                                 ignoreUnknown: Self.ignoresUnknown(request.headers))
        } else {
            requestBytes = payload
        }
        let calls = self.calls
        let responseType = method.responseType
        let responseBody = channelBody { channel in
            @Sendable func envelope(_ flags: UInt8, _ bytes: [UInt8]) -> ByteBuffer {
                var buffer = ByteBuffer()
                buffer.writeInteger(flags)
                buffer.writeInteger(UInt32(bytes.count))
                buffer.writeBytes(bytes)
                return buffer
            }
            let outcome = await calls.call(path: method.path, metadata: metadata, peer: "http", timeout: timeout, request: requestBytes) { message in
                let bytes: [UInt8]
                if json {
                    do { bytes = try Self.responseJSON(message, type: responseType) } catch { throw (error as? GatewayError)?.status ?? RPCError(.internal, "\(error)") }
                } else {
                    bytes = message
                }
                try await channel.send(envelope(0, bytes))
            }
            var end = ProtoJSONWriter()
            end.beginObject()
            if outcome.status.code != .ok {
                end.key("error")
                Self.writeError(outcome.status, to: &end)
            }
            var trailers: [(String, String)] = []
            for entry in outcome.trailingMetadata.entries {
                if case .string(let text) = entry.value { trailers.append((entry.key, text)) }
            }
            if !trailers.isEmpty {
                end.key("metadata")
                end.beginObject()
                for (key, value) in trailers {
                    end.key(key)
                    end.beginArray()
                    end.string(value)
                    end.endArray()
                }
                end.endObject()
            }
            end.endObject()
            try? await channel.send(envelope(0x02, end.bytes))
        }
        return Response(status: .ok, headers: [.contentType: json ? "application/connect+json" : "application/connect+proto"], body: responseBody)
    }

    // MARK: REST

    /// The routes whose segments match `parts`, with the path variables they bind.
    func matches(_ parts: [String]) -> [(HTTPRoute, [String: String])] {
        var found: [(HTTPRoute, [String: String])] = []
        for route in routes where route.segments.count == parts.count {
            var variables: [String: String] = [:]
            var matched = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text != part { matched = false }
                case .variable(let name): variables[name] = part
                }
                if !matched { break }
            }
            if matched { found.append((route, variables)) }
        }
        // Literal segments win over variables (`positions/open` before `positions/{id}`).
        return found.sorted { $0.1.count < $1.1.count }
    }

    func rest(_ request: Request) async throws(GatewayError) -> Response {
        var request = request
        let rawParts = request.uri.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        let parts = rawParts.map { String($0).removingPercentEncoding ?? String($0) }
        let candidates = matches(parts)
        let verb = request.method.rawValue
        guard let (route, variables) = candidates.first(where: { $0.0.verb == verb || (verb == "HEAD" && $0.0.verb == "GET") }) else {
            if !candidates.isEmpty {
                let allowed = Set(candidates.map(\.0.verb)).sorted().joined(separator: ", ")
                var error = GatewayError(.unimplemented, "\(verb) is not allowed on \(request.uri.path): use \(allowed)", http: .methodNotAllowed)
                error.headers[.allow] = allowed
                throw error
            }
            throw GatewayError(.unimplemented, "no route \(verb) \(request.uri.path.prefix(200))\(closeRoutes(parts))", http: .notFound)
        }
        for (name, value) in variables where value.isEmpty {
            throw GatewayError(.invalidArgument, "path variable {\(name)} of \(route.template) is empty")
        }
        let metadata = try Self.metadata(request.headers)
        let timeout = try Self.timeout(request.headers)
        var object: [String: JSONValue] = [:]
        if route.body == "*" {
            let body = try Self.decode(try await Self.collectBody(&request), encoding: request.headers[.contentEncoding])
            let trimmed = body.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
            if !trimmed.isEmpty {
                let contentType = (request.headers[.contentType] ?? "application/json").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                // curl -d labels its body application/x-www-form-urlencoded: read as JSON too.
                guard contentType == "application/json" || contentType == "application/x-www-form-urlencoded" else {
                    throw GatewayError(.invalidArgument, "the body must be application/json, not \"\(contentType.prefix(60))\"", http: .unsupportedMediaType)
                }
                guard case .object(let fields) = try Self.parse(body) else { throw GatewayError(.invalidArgument, "request JSON: the body must be an object") }
                object = fields
            }
        }
        // Query parameters (routes without a body; with one, only the path binds fields, and a
        // query string is refused rather than ignored).
        if !route.body.isEmpty, let query = request.uri.query, !query.isEmpty {
            throw GatewayError(.invalidArgument, "\(route.verb) \(route.template) reads no query parameters: put the fields in the JSON body")
        }
        if route.body.isEmpty {
            var repeated: [String: [JSONValue]] = [:]
            for (key, value) in request.uri.queryParameters {
                let name = String(key)
                guard let field = route.fields[name] else {
                    throw GatewayError(.invalidArgument, "query parameter \(name.prefix(60)) is not a field of \(route.method.requestType)")
                }
                let text = String(value)
                switch field.kind {
                case .scalar:
                    guard object[field.jsonName] == nil else { throw GatewayError(.invalidArgument, "query parameter \(name) is given twice") }
                    object[field.jsonName] = .string(text)
                case .bool:
                    guard text == "true" || text == "false" else {
                        throw GatewayError(.invalidArgument, "query parameter \(name) must be true or false, not \"\(text.prefix(20))\"")
                    }
                    object[field.jsonName] = .bool(text == "true")
                case .repeatedScalar:
                    repeated[field.jsonName, default: []].append(.string(text))
                case .bodyOnly:
                    throw GatewayError(.invalidArgument, "field \(name) cannot be set in a query string: call \(route.method.path) with the Connect protocol")
                }
            }
            for (name, values) in repeated { object[name] = .array(values) }
        }
        for (name, value) in variables {
            guard let field = route.fields[name] else { continue }
            object[field.jsonName] = .string(value)
            if field.jsonName != name { object[name] = nil }
        }
        let requestBytes = try Self.requestBytes(.object(object), type: route.method.requestType, ignoreUnknown: Self.ignoresUnknown(request.headers))
        if route.method.kind.serverStreams {
            return streamNDJSON(route.method, requestBytes, metadata: metadata, timeout: timeout)
        }
        let (message, outcome) = try await unary(route.method, requestBytes, metadata: metadata, timeout: timeout)
        var headers: HTTPFields = [.contentType: "application/json"]
        Self.addMetadata(outcome.initialMetadata, to: &headers, prefix: "")
        Self.addMetadata(outcome.trailingMetadata, to: &headers, prefix: "")
        let json = try Self.responseJSON(message, type: route.method.responseType)
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: request.method == .head ? [] : json)))
    }

    /// A server-streaming method over REST: newline-delimited JSON, `{"result": message}` per
    /// message and `{"error": {code, message}}` last when the call fails (as grpc-gateway).
    func streamNDJSON(_ method: MethodDescriptor, _ requestBytes: [UInt8], metadata: Metadata, timeout: Duration?) -> Response {
        let calls = self.calls
        let body = channelBody { channel in
            let outcome = await calls.call(path: method.path, metadata: metadata, peer: "http", timeout: timeout, request: requestBytes) { message in
                let json: [UInt8]
                do { json = try Self.responseJSON(message, type: method.responseType) } catch { throw (error as? GatewayError)?.status ?? RPCError(.internal, "\(error)") }
                var line = ByteBuffer()
                line.writeString("{\"result\":")
                line.writeBytes(json)
                line.writeString("}\n")
                try await channel.send(line)
            }
            if outcome.status.code != .ok {
                var line = ByteBuffer()
                line.writeString("{\"error\":")
                line.writeBytes(Self.errorJSON(outcome.status))
                line.writeString("}\n")
                try? await channel.send(line)
            }
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: body)
    }

    /// ": did you mean …" with the routes sharing the most leading segments with the path.
    func closeRoutes(_ parts: [String]) -> String {
        func shared(_ route: HTTPRoute) -> Int {
            var count = 0
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let text): if text == part { count += 1 } else { return count }
                case .variable: count += 1
                }
            }
            return count
        }
        let scored = routes.map { ($0, shared($0)) }.filter { $0.1 > 0 }
        guard let best = scored.map(\.1).max() else { return "" }
        var seen = Set<String>()
        let close = scored.filter { $0.1 == best }.map { "\($0.0.verb) \($0.0.template)" }.filter { seen.insert($0).inserted }.prefix(5)
        return "; close routes: " + close.joined(separator: ", ")
    }
}

/// A bounded hand-off from a call's response writer to an HTTP body writer: `send` waits
/// while `capacity` chunks are queued, so a slow HTTP client slows the handler (as gRPC
/// flow control does) instead of growing a buffer.
final class ChunkChannel: Sendable {
    private struct State {
        var queue: [ByteBuffer] = []
        var finished = false
        var closed = false
        var receiver: CheckedContinuation<ByteBuffer?, Never>?
        var senders: [CheckedContinuation<Void, Error>] = []
    }
    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int = 16) { self.capacity = capacity }

    /// Queues a chunk; throws CancellationError once the receiver has gone.
    func send(_ chunk: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let action: () -> Void = state.withLock { s in
                if s.closed { return { continuation.resume(throwing: CancellationError()) } }
                if let receiver = s.receiver {
                    s.receiver = nil
                    return { receiver.resume(returning: chunk); continuation.resume() }
                }
                s.queue.append(chunk)
                if s.queue.count < capacity { return { continuation.resume() } }
                s.senders.append(continuation)
                return {}
            }
            action()
        }
    }

    /// No more chunks.
    func finish() {
        let receiver: CheckedContinuation<ByteBuffer?, Never>? = state.withLock { s in
            s.finished = true
            defer { s.receiver = nil }
            return s.receiver
        }
        receiver?.resume(returning: nil)
    }

    /// The receiver stopped (the HTTP client went away): senders fail from now on.
    func close() {
        let senders: [CheckedContinuation<Void, Error>] = state.withLock { s in
            s.closed = true
            defer { s.senders = [] }
            return s.senders
        }
        for sender in senders { sender.resume(throwing: CancellationError()) }
    }

    /// The next chunk, or nil after `finish`.
    func receive() async -> ByteBuffer? {
        await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
            let action: () -> Void = state.withLock { s in
                if !s.queue.isEmpty {
                    let chunk = s.queue.removeFirst()
                    let sender = s.senders.isEmpty ? nil : s.senders.removeFirst()
                    return { sender?.resume(); continuation.resume(returning: chunk) }
                }
                if s.finished { return { continuation.resume(returning: nil) } }
                s.receiver = continuation
                return {}
            }
            action()
        }
    }
}

/// A response body fed by `produce` through a ``ChunkChannel``.
func channelBody(_ produce: @escaping @Sendable (ChunkChannel) async -> Void) -> ResponseBody {
    ResponseBody { writer in
        let channel = ChunkChannel()
        let producer = Task {
            await produce(channel)
            channel.finish()
        }
        do {
            while let chunk = await channel.receive() { try await writer.write(chunk) }
            try await writer.finish(nil)
        } catch {
            channel.close()
            producer.cancel()
            throw error
        }
    }
}
