import Foundation
import GRPCClient
import GRPCTestingProto
import GRPCTransport
import RPCCore

/// interop-client: the client side of grpc/grpc doc/interop-test-descriptions.md with our
/// Swift client, against any server implementing grpc.testing.TestService.
///
///     interop-client --server HOST:PORT [--test_case NAME|all] [--skip_compression_probe]
///                    [--ca_file PEM [--server_host_override NAME]]
///
/// `--ca_file` speaks TLS (ALPN h2), trusting that CA, verifying the server as NAME.
/// `--skip_compression_probe` leaves out the probes of the client_compressed cases (a
/// request marked expect_compressed sent plain must fail): for servers that cannot
/// tell, such as grpcio's.
/// Prints "PASS name" or "FAIL name: reason" per case; exits 1 when any case failed.

struct Failure: Error, CustomStringConvertible {
    let description: String
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw Failure(description: message()) }
}

func expectStatus(_ code: StatusCode, _ body: () async throws -> Void) async throws -> RPCError {
    do {
        try await body()
    } catch let error as RPCError {
        try check(error.code == code, "expected \(code), got \(error)")
        return error
    }
    throw Failure(description: "expected \(code), the call succeeded")
}

func payload(_ size: Int) -> Grpc_Testing_Payload {
    var payload = Grpc_Testing_Payload()
    payload.body = [UInt8](repeating: 0, count: size)
    return payload
}

func bool(_ value: Bool) -> Grpc_Testing_BoolValue {
    var wrapped = Grpc_Testing_BoolValue()
    wrapped.value = value
    return wrapped
}

func streamingRequest(_ responseSizes: [Int], payloadSize: Int = 0, compressed: [Bool]? = nil) -> Grpc_Testing_StreamingOutputCallRequest {
    var request = Grpc_Testing_StreamingOutputCallRequest()
    request.responseParameters = responseSizes.enumerated().map { index, size in
        var parameters = Grpc_Testing_ResponseParameters()
        parameters.size = Int32(size)
        if let compressed { parameters.compressed = bool(compressed[index]) }
        return parameters
    }
    if payloadSize > 0 { request.payload = payload(payloadSize) }
    return request
}

let echoInitial = "x-grpc-test-echo-initial"
let echoTrailing = "x-grpc-test-echo-trailing-bin"

func cases(_ client: Grpc_Testing_TestService.Client, _ unimplemented: Grpc_Testing_UnimplementedService.Client)
    -> [(String, () async throws -> Void)]
{
    [
        ("empty_unary", {
            _ = try await client.emptyCall(Grpc_Testing_Empty())
        }),
        ("large_unary", {
            var request = Grpc_Testing_SimpleRequest()
            request.responseSize = 314159
            request.payload = payload(271828)
            let response = try await client.unaryCall(request)
            try check(response.payload?.body == [UInt8](repeating: 0, count: 314159), "wrong response payload")
        }),
        ("client_streaming", {
            let call = try await client.streamingInputCall()
            for size in [27182, 8, 1828, 45904] {
                var request = Grpc_Testing_StreamingInputCallRequest()
                request.payload = payload(size)
                try await call.send(request)
            }
            let response = try await call.response()
            try check(response.message.aggregatedPayloadSize == 74922, "aggregated \(response.message.aggregatedPayloadSize)")
        }),
        ("server_streaming", {
            let sizes = [31415, 9, 2653, 58979]
            let call = try await client.streamingOutputCall(streamingRequest(sizes))
            var seen: [Int] = []
            for try await response in call.responses { seen.append(response.payload?.body.count ?? 0) }
            try check(seen == sizes, "sizes \(seen)")
        }),
        ("ping_pong", {
            let call = try await client.fullDuplexCall()
            var iterator = call.responses.makeAsyncIterator()
            for (requestSize, responseSize) in [(27182, 31415), (8, 9), (1828, 2653), (45904, 58979)] {
                try await call.send(streamingRequest([responseSize], payloadSize: requestSize))
                let response = try await iterator.next()
                try check(response?.payload?.body.count == responseSize, "expected \(responseSize) bytes")
            }
            await call.closeSend()
            try check(try await iterator.next() == nil, "a response after the last one")
        }),
        ("empty_stream", {
            let call = try await client.fullDuplexCall()
            await call.closeSend()
            var count = 0
            for try await _ in call.responses { count += 1 }
            try check(count == 0, "\(count) responses")
        }),
        ("status_code_and_message", { try await statusCase(client, "test status message") }),
        ("special_status_message", {
            try await statusCase(client, "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n")
        }),
        ("custom_metadata", {
            var metadata = Metadata()
            metadata.add(echoInitial, "test_initial_metadata_value")
            metadata.add(echoTrailing, binary: [0xAB, 0xAB, 0xAB])
            var request = Grpc_Testing_SimpleRequest()
            request.responseSize = 314159
            request.payload = payload(271828)
            let response = try await ClientCalls.unary(
                client.transport, Grpc_Testing_TestService.Method.unaryCall, request, options: CallOptions(metadata: metadata))
            try check(response.initialMetadata.first(echoInitial) == "test_initial_metadata_value", "initial \(response.initialMetadata)")
            try check(response.trailingMetadata[echoTrailing] == [.binary([0xAB, 0xAB, 0xAB])], "trailing \(response.trailingMetadata)")
            let call = try await client.fullDuplexCall(options: CallOptions(metadata: metadata))
            try await call.send(streamingRequest([314159], payloadSize: 271828))
            await call.closeSend()
            var sizes: [Int] = []
            for try await response in call.responses { sizes.append(response.payload?.body.count ?? 0) }
            try check(sizes == [314159], "sizes \(sizes)")
            try check(try await call.initialMetadata().first(echoInitial) == "test_initial_metadata_value", "duplex initial")
            try check(await call.trailingMetadata()[echoTrailing] == [.binary([0xAB, 0xAB, 0xAB])], "duplex trailing")
        }),
        ("unimplemented_method", {
            _ = try await expectStatus(.unimplemented) { _ = try await client.unimplementedCall(Grpc_Testing_Empty()) }
        }),
        ("unimplemented_service", {
            _ = try await expectStatus(.unimplemented) { _ = try await unimplemented.unimplementedCall(Grpc_Testing_Empty()) }
        }),
        ("cancel_after_begin", {
            let call = try await client.streamingInputCall()
            call.cancel()
            _ = try await expectStatus(.cancelled) { _ = try await call.response() }
        }),
        ("cancel_after_first_response", {
            let call = try await client.fullDuplexCall()
            try await call.send(streamingRequest([31415], payloadSize: 27182))
            var iterator = call.responses.makeAsyncIterator()
            try check(try await iterator.next()?.payload?.body.count == 31415, "first response")
            call.cancel()
            _ = try await expectStatus(.cancelled) { _ = try await iterator.next() }
        }),
        ("timeout_on_sleeping_server", {
            let call = try await client.fullDuplexCall(options: CallOptions(timeout: .milliseconds(1)))
            try? await call.send(streamingRequest([], payloadSize: 27182))
            _ = try await expectStatus(.deadlineExceeded) { for try await _ in call.responses {} }
        }),
        ("client_compressed_unary", {
            var request = Grpc_Testing_SimpleRequest()
            request.expectCompressed = bool(true)
            request.responseSize = 314159
            request.payload = payload(271828)
            if probe { _ = try await expectStatus(.invalidArgument) { _ = try await client.unaryCall(request) } }
            let response = try await client.unaryCall(request, options: CallOptions(compressRequests: true))
            try check(response.payload?.body.count == 314159, "compressed response size")
            request.expectCompressed = bool(false)
            _ = try await client.unaryCall(request)
        }),
        ("server_compressed_unary", {
            for compressed in [true, false] {
                var request = Grpc_Testing_SimpleRequest()
                request.responseCompressed = bool(compressed)
                request.responseSize = 314159
                request.payload = payload(271828)
                let call = try await ClientCalls.serverStreaming(
                    client.transport,
                    RPCMethod<Grpc_Testing_SimpleRequest, Grpc_Testing_SimpleResponse>(
                        service: Grpc_Testing_TestService.name, method: "UnaryCall", kind: .unary),
                    request, options: CallOptions())
                var sizes: [Int] = []
                for try await response in call.responses {
                    sizes.append(response.payload?.body.count ?? 0)
                    try check(call.stream.lastResponseWasCompressed == compressed, "compressed flag \(!compressed), wanted \(compressed)")
                }
                try check(sizes == [314159], "sizes \(sizes)")
            }
        }),
        ("client_compressed_streaming", {
            var request = Grpc_Testing_StreamingInputCallRequest()
            request.expectCompressed = bool(true)
            request.payload = payload(27182)
            if probe {
                let first = try await client.streamingInputCall()
                try? await first.send(request)
                _ = try await expectStatus(.invalidArgument) { _ = try await first.response() }
            }
            let call = try await client.streamingInputCall(options: CallOptions(compressRequests: true))
            try await call.send(request)
            var plain = Grpc_Testing_StreamingInputCallRequest()
            plain.expectCompressed = bool(false)
            plain.payload = payload(45904)
            try await call.send(plain, compress: false)
            let response = try await call.response()
            try check(response.message.aggregatedPayloadSize == 73086, "aggregated \(response.message.aggregatedPayloadSize)")
        }),
        ("server_compressed_streaming", {
            let call = try await client.streamingOutputCall(streamingRequest([31415, 92653], compressed: [true, false]))
            var seen: [(Int, Bool)] = []
            for try await response in call.responses {
                seen.append((response.payload?.body.count ?? 0, call.stream.lastResponseWasCompressed))
            }
            try check(seen.map(\.0) == [31415, 92653] && seen.map(\.1) == [true, false], "responses \(seen)")
        }),
    ]
}

func statusCase(_ client: Grpc_Testing_TestService.Client, _ message: String) async throws {
    var status = Grpc_Testing_EchoStatus()
    status.code = 2
    status.message = message
    var request = Grpc_Testing_SimpleRequest()
    request.responseStatus = status
    let unary = try await expectStatus(.unknown) { _ = try await client.unaryCall(request) }
    try check(unary.message == message, "unary message \(unary.message.debugDescription)")
    var streaming = Grpc_Testing_StreamingOutputCallRequest()
    streaming.responseStatus = status
    let call = try await client.fullDuplexCall()
    try await call.send(streaming)
    await call.closeSend()
    let duplex = try await expectStatus(.unknown) { for try await _ in call.responses {} }
    try check(duplex.message == message, "duplex message \(duplex.message.debugDescription)")
}

var server = ""
var selected = "all"
nonisolated(unsafe) var probe = true
var configuration = ClientConfiguration()
var caFile: String?
var clientCertificate: String?
var clientKey: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--server": server = arguments.popFirst() ?? ""
    case "--test_case": selected = arguments.popFirst() ?? ""
    case "--skip_compression_probe": probe = false
    case "--ca_file": caFile = arguments.popFirst()
    case "--server_host_override": configuration.serverName = arguments.popFirst()
    // Credentials (as a holdingsd caller would send them): a client certificate for mutual
    // TLS and a bearer token read from a file.
    case "--client_cert_file": clientCertificate = arguments.popFirst()
    case "--client_key_file": clientKey = arguments.popFirst()
    case "--access_token_file":
        let path = arguments.popFirst() ?? ""
        guard let token = try? String(contentsOfFile: path, encoding: .utf8) else {
            FileHandle.standardError.write(Data("interop-client: cannot read \(path)\n".utf8))
            exit(2)
        }
        configuration.bearerToken = token.trimmingCharacters(in: .whitespacesAndNewlines)
    default:
        FileHandle.standardError.write(Data("interop-client: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}
let channel: GRPCChannel
do {
    if let caFile {
        configuration.tls = try TLSContext(trustRootsFile: caFile, certificateChainFile: clientCertificate, privateKeyFile: clientKey)
    }
    channel = try GRPCChannel(target: server, configuration: configuration)
} catch {
    FileHandle.standardError.write(Data("usage: interop-client --server HOST:PORT [--test_case NAME|all]\n".utf8))
    exit(2)
}
let all = cases(Grpc_Testing_TestService.Client(channel), Grpc_Testing_UnimplementedService.Client(channel))
let chosen = selected == "all" ? all : all.filter { $0.0 == selected }
if chosen.isEmpty {
    FileHandle.standardError.write(Data("interop-client: no test case named \(selected)\n".utf8))
    exit(2)
}
var failures = 0
for (name, body) in chosen {
    do {
        try await body()
        print("PASS \(name)")
    } catch {
        failures += 1
        print("FAIL \(name): \(error)")
    }
}
channel.close()
exit(failures == 0 ? 0 : 1)
