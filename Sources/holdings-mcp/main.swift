import Dispatch
import Foundation
import HTTPTypes
import GRPCClient
import Hummingbird
import Logging
import MCP
import RPCCore

// holdings-mcp: the Model Context Protocol server of UltraCore Holdings. Ten tools for
// assistants over holdingsd's gRPC API, on stdio or streamable HTTP.

let usage = """
    usage: holdings-mcp [--server HOST:PORT] [--token-file FILE] [--ca-file FILE]
                        [--transport stdio|http] [--http-port N] [--http-host ADDR]
                        [--allow-writes] [--max-rows N] [--max-chars N]

      --server HOST:PORT   holdingsd's gRPC address (default 127.0.0.1:50051); h2c unless --ca-file
      --token-file FILE    bearer token for holdingsd (default: env HOLDINGS_TOKEN)
      --ca-file FILE       PEM CA of holdingsd's TLS certificate: connect with TLS
      --transport T        stdio (default; one client, the process that started us) or http
                           (streamable HTTP, JSON responses, POST /mcp)
      --http-port N        port of the HTTP transport (default 8765; 0 for any free one)
      --http-host ADDR     address of the HTTP transport (default 127.0.0.1; loopback only)
      --allow-writes       offer open_position, close_position and execute_rebalance (off:
                           read-only, those tools are not listed and refuse calls)
      --max-rows N         most positions, lots or trades in one answer (default 50, at most 1000)
      --max-chars N        most characters of an answer's text (default 20000)
    """

/// A text part of a tool's answer.
func textContent(_ text: String) -> Tool.Content { .text(text: text, annotations: nil, _meta: nil) }

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-mcp: \(message)\n".utf8))
    exit(2)
}

struct Settings: Sendable {
    var serverAddress = "127.0.0.1:50051"
    var tokenFile: String?
    var caFile: String?
    var transportName = "stdio"
    var httpPort = 8765
    var httpHost = "127.0.0.1"
    var allowWrites = false
    var maxRows = 50
    var maxChars = 20_000
}

func parseSettings() -> Settings {
    var settings = Settings()
    var arguments = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let value = arguments.popFirst() else { fail("\(flag) needs a value\n\(usage)") }
        return value
    }
    func number(_ flag: String, _ range: ClosedRange<Int>) -> Int {
        let text = value(flag)
        guard let number = Int(text), range.contains(number) else { fail("\(flag) must be from \(range.lowerBound) to \(range.upperBound), not \(text)") }
        return number
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--server": settings.serverAddress = value(argument)
        case "--token-file": settings.tokenFile = value(argument)
        case "--ca-file": settings.caFile = value(argument)
        case "--transport": settings.transportName = value(argument)
        case "--http-port": settings.httpPort = number(argument, 0...65535)
        case "--http-host": settings.httpHost = value(argument)
        case "--allow-writes": settings.allowWrites = true
        case "--max-rows": settings.maxRows = number(argument, 1...1000)
        case "--max-chars": settings.maxChars = number(argument, 1000...1_000_000)
        case "--help", "-h":
            print(usage)
            exit(0)
        default: fail("unknown argument \(argument)\n\(usage)")
        }
    }
    guard settings.transportName == "stdio" || settings.transportName == "http" else {
        fail("--transport is stdio or http, not \(settings.transportName)")
    }
    guard settings.httpHost.hasPrefix("127.") else {
        fail("--http-host must be a loopback address: the HTTP transport has no TLS or authentication of its own")
    }
    return settings
}

let settings = parseSettings()
let serverAddress = settings.serverAddress
let allowWrites = settings.allowWrites
let maxChars = settings.maxChars
let httpHost = settings.httpHost
let httpPort = settings.httpPort
let channel: GRPCChannel
do {
    var configuration = ClientConfiguration()
    try configuration.useCredentials(tokenFile: settings.tokenFile, caFile: settings.caFile, certificateFile: nil, keyFile: nil)
    channel = try GRPCChannel(target: serverAddress, configuration: configuration)
} catch {
    fail("cannot reach holdingsd at \(serverAddress): \(error)")
}
let context = ToolContext(channel: channel, allowWrites: allowWrites, maxRows: settings.maxRows, maxChars: maxChars)
let offered = holdingsTools.filter { allowWrites || !$0.writes }
let byName = Dictionary(uniqueKeysWithValues: holdingsTools.map { ($0.tool.name, $0) })

/// Runs one tool call: arguments checked, holdingsd called, the answer bounded.
@Sendable func callTool(_ parameters: CallTool.Parameters) async -> CallTool.Result {
    guard let tool = byName[parameters.name] else {
        return .init(content: [textContent("unknown tool \(parameters.name.prefix(60)); tools: \(offered.map(\.tool.name).joined(separator: ", "))")], isError: true)
    }
    guard !tool.writes || allowWrites else {
        return .init(content: [textContent("\(tool.tool.name) writes to the book and this server is read-only: start holdings-mcp with --allow-writes")], isError: true)
    }
    do {
        let arguments = try Arguments(parameters.arguments, allowed: tool.parameters)
        let answer = try await tool.run(arguments, context)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = String(decoding: try encoder.encode(answer), as: UTF8.self)
        if text.count > maxChars {
            let total = text.count
            text = String(text.prefix(maxChars)) + "\n… truncated at \(maxChars) of \(total) characters: ask for fewer rows (page_size, max_lots)"
        }
        return CallTool.Result(content: [textContent(text)], structuredContent: Optional(answer), isError: false)
    } catch let failure as ToolFailure {
        return .init(content: [textContent(failure.message)], isError: true)
    } catch let error as RPCError {
        return .init(content: [textContent("holdingsd answered \(error.code): \(error.message)")], isError: true)
    } catch {
        return .init(content: [textContent("the call failed: \(error)")], isError: true)
    }
}

func makeServer() async -> Server {
    let server = Server(
        name: "ultracore-holdings", version: "1.0.0", title: "UltraCore Holdings",
        instructions: "Positions, gains, performance, risk and rebalancing of UltraCore Holdings clients. Amounts are exact decimal strings."
            + (allowWrites ? " Writes need an idempotency_key: reuse it to retry safely." : " Read-only: writes are disabled."),
        capabilities: .init(tools: .init(listChanged: false)))
    await server.withMethodHandler(ListTools.self) { _ in .init(tools: offered.map(\.tool)) }
    await server.withMethodHandler(CallTool.self) { parameters in await callTool(parameters) }
    return server
}

if settings.transportName == "stdio" {
    let server = await makeServer()
    do {
        try await server.start(transport: StdioTransport())
    } catch {
        fail("cannot start on stdio: \(error)")
    }
    await server.waitUntilCompleted()
    exit(0)
}

// Streamable HTTP: POST /mcp with JSON-RPC, answered with JSON (stateless; no sessions).
let transport = StatelessHTTPServerTransport()
let server = await makeServer()
do {
    try await server.start(transport: transport)
} catch {
    fail("cannot start the HTTP transport: \(error)")
}
let router = Router()
router.on("mcp", method: .post) { request, _ -> Response in
    var request = request
    guard let body = try? await request.collectBody(upTo: 1 << 20) else {
        return Response(status: .contentTooLarge, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"jsonrpc":"2.0","error":{"code":-32600,"message":"the request body is larger than 1 MiB"},"id":null}"#)))
    }
    var headers: [String: String] = [:]
    for field in request.headers { headers[field.name.canonicalName] = field.value }
    let answer = await transport.handleRequest(MCP.HTTPRequest(
        method: "POST", headers: headers, body: Data(body.readableBytesView), path: "/mcp"))
    var responseHeaders = HTTPFields()
    for (name, value) in answer.headers {
        if let field = HTTPField.Name(name) { responseHeaders[field] = value }
    }
    return Response(status: .init(code: answer.statusCode), headers: responseHeaders,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.bodyData ?? Data())))
}
for method in [HTTPRequest.Method.get, .delete] {
    router.on("mcp", method: method) { _, _ -> Response in
        Response(status: .methodNotAllowed, headers: [.allow: "POST"])
    }
}
var logger = Logger(label: "holdings-mcp")
logger.logLevel = .warning
let application = Application(
    router: router, configuration: .init(address: .hostname(httpHost, port: httpPort), serverName: "holdings-mcp"),
    onServerRunning: { channel in
        let port = channel.localAddress?.port ?? httpPort
        FileHandle.standardOutput.write(Data(
            "holdings-mcp \(offered.count) tools (\(allowWrites ? "writes enabled" : "read-only")) listening on \(httpHost):\(port) (http://\(httpHost):\(port)/mcp), holdingsd \(serverAddress)\n".utf8))
    }, logger: logger)
do {
    try await application.runService()
} catch {
    fail("the HTTP transport stopped: \(error)")
}
