import GRPCTransport
import HTTP2
import RPCCore
import Testing

/// The gRPC stream state machine driven without sockets: header fields, DATA bytes and
/// stream ends go in as the HTTP/2 session would deliver them; the actions come out.
@Suite("gRPC stream state machine")
struct StreamStateMachineTests {
    typealias Machine = GRPCStreamStateMachine

    static let request: [(String, String)] = [
        (":method", "POST"), (":scheme", "http"), (":path", "/pkg.Service/Method"), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers"), ("grpc-timeout", "250m"), ("x-client", "c1"),
    ]

    static func feed(_ machine: inout Machine, _ fields: [(String, String)]) {
        for (name, value) in fields { machine.receiveHeader(name, value) }
    }

    static func data(_ machine: inout Machine, _ bytes: [UInt8]) -> Machine.DataAction {
        bytes.withUnsafeBytes { machine.receiveData($0) }
    }

    static func messages(_ action: Machine.DataAction) -> [[UInt8]]? {
        if case .messages(let list) = action { return list.map(\.message) }
        return nil
    }

    static func value(_ name: String, _ fields: [(String, String)]) -> String? { fields.first { $0.0 == name }?.1 }

    static func acceptedServer(endStream: Bool = false) -> (Machine, Machine.RequestHead?) {
        var server = Machine(role: .server, maxMessageSize: 64)
        feed(&server, request)
        guard case .accept(let head) = server.receiveRequestHeaders(endStream: endStream) else { return (server, nil) }
        return (server, head)
    }

    @Test("server: a unary exchange goes idle → open → closed on both sides, a message arriving byte by byte")
    func serverUnary() throws {
        var (server, accepted) = Self.acceptedServer()
        let head = try #require(accepted)
        #expect(head.path == "/pkg.Service/Method")
        #expect(head.timeout == .milliseconds(250))
        #expect(head.metadata.first("x-client") == "c1")
        #expect(head.metadata.first("te") == nil)
        #expect(server.client == .open && server.server == .idle)
        let framed = GRPCWire.frame([1, 2, 3, 4, 5, 6, 7])
        var received: [[UInt8]] = []
        for byte in framed { received += Self.messages(Self.data(&server, [byte])) ?? [] }
        #expect(received == [[1, 2, 3, 4, 5, 6, 7]])
        #expect(server.receiveEndOfRequest() == nil)
        #expect(server.client == .closed)

        var initial = Metadata()
        initial.add("x-initial", "yes")
        let headers = try #require(try server.sendResponseMessage(initialMetadata: initial))
        #expect(Self.value(":status", headers) == "200" && Self.value("x-initial", headers) == "yes")
        #expect(try server.sendResponseMessage(initialMetadata: initial) == nil, "headers go once")
        var trailing = Metadata()
        trailing.add("x-trailing", "t")
        guard case .trailers(let trailers) = server.sendStatus(RPCError(.ok, ""), trailingMetadata: trailing, initialMetadata: initial) else {
            Issue.record("an open response ends with trailers")
            return
        }
        #expect(Self.value("grpc-status", trailers) == "0" && Self.value("x-trailing", trailers) == "t")
        #expect(server.isFinished)
        if case .none = server.sendStatus(RPCError(.internal, "again"), trailingMetadata: Metadata(), initialMetadata: Metadata()) {} else {
            Issue.record("a second status is refused")
        }
        #expect(throws: RPCError.self) { try server.sendResponseMessage(initialMetadata: Metadata()) }
    }

    @Test("server: a status before any message is one trailers-only block carrying the initial metadata")
    func serverTrailersOnly() {
        var (server, _) = Self.acceptedServer(endStream: true)
        #expect(server.client == .closed)
        var initial = Metadata()
        initial.add("x-initial", "yes")
        guard case .trailersOnly(let fields) = server.sendStatus(RPCError(.notFound, "no such position 50%"), trailingMetadata: Metadata(), initialMetadata: initial) else {
            Issue.record("expected trailers-only")
            return
        }
        #expect(Self.value(":status", fields) == "200")
        #expect(Self.value("grpc-status", fields) == "5")
        #expect(Self.value("grpc-message", fields) == "no such position 50%25")
        #expect(Self.value("x-initial", fields) == "yes")
    }

    @Test("server: requests it cannot take are refused with the HTTP or gRPC status the protocol names, and the call is over")
    func serverRejections() {
        func reject(_ change: (inout [(String, String)]) -> Void, maxHeaderListSize: Int = 16 * 1024) -> [(String, String)]? {
            var fields = Self.request
            change(&fields)
            var server = Machine(role: .server, maxMessageSize: 64, maxHeaderListSize: maxHeaderListSize)
            Self.feed(&server, fields)
            guard case .reject(let headers) = server.receiveRequestHeaders(endStream: false) else { return nil }
            #expect(server.isFinished)
            #expect(Self.messages(Self.data(&server, GRPCWire.frame([1]))) == nil, "data after a refusal delivers nothing")
            return headers
        }
        #expect(reject { $0[0].1 = "GET" }.map { Self.value(":status", $0) } == "405")
        #expect(reject { $0[4].1 = "text/plain" }.map { Self.value(":status", $0) } == "415")
        #expect(reject { $0[4].1 = "application/grpcx" }.map { Self.value(":status", $0) } == "415")
        #expect(reject { $0[6].1 = "1 S" }.map { Self.value("grpc-status", $0) } == "3")
        #expect(reject { $0.append(("grpc-encoding", "br")) }.map { Self.value("grpc-status", $0) } == "12")
        let tooLarge = reject({ $0.append(("x-big", String(repeating: "a", count: 600))) }, maxHeaderListSize: 512)
        #expect(tooLarge.map { Self.value("grpc-status", $0) } == "8")
        #expect(reject { $0[4].1 = "application/grpc+proto" } == nil, "application/grpc+proto is gRPC")
    }

    @Test("server: broken request bodies end the call with the precise status")
    func serverBadBodies() {
        var (server, _) = Self.acceptedServer()
        _ = Self.data(&server, Array(GRPCWire.frame([1, 2, 3]).prefix(6)))
        #expect(server.hasPartialMessage && server.partialMessageWireSize == 8)
        #expect(server.receiveEndOfRequest()?.code == .internal)

        (server, _) = Self.acceptedServer()
        if case .fail(let status) = Self.data(&server, GRPCWire.frame([UInt8](repeating: 0, count: 65))) {
            #expect(status.code == .resourceExhausted)
        } else {
            Issue.record("a message over the limit fails the call")
        }
        (server, _) = Self.acceptedServer()
        if case .fail(let status) = Self.data(&server, GRPCWire.frame([1], compress: true)) {
            #expect(status.code == .internal, "compressed without grpc-encoding")
        } else {
            Issue.record("a compressed message without an encoding fails the call")
        }
        (server, _) = Self.acceptedServer()
        if case .fail(let status) = Self.data(&server, [7, 0, 0, 0, 0]) {
            #expect(status.code == .internal)
        } else {
            Issue.record("a flag byte other than 0 or 1 fails the call")
        }
        // Trailers from a client end the request.
        (server, _) = Self.acceptedServer()
        Self.feed(&server, [("x-trailer", "1")])
        if case .endOfRequest = server.receiveRequestHeaders(endStream: true) {} else { Issue.record("trailers with END_STREAM end the request") }
        #expect(server.receiveEndOfRequest() == nil && server.client == .closed)
    }

    @Test("client: request headers once; response headers, messages and trailers in order; nothing after the end")
    func clientExchange() throws {
        var client = Machine(role: .client, maxMessageSize: 64)
        #expect(!client.canSendRequestMessage)
        var metadata = Metadata()
        metadata.add("x-request-id", "r1")
        let headers = try client.sendRequestHeaders(.init(
            scheme: "https", authority: "h:1", path: "/a.B/C", timeout: .seconds(2), compress: true, metadata: metadata, bearerToken: "tok"))
        #expect(Self.value(":path", headers) == "/a.B/C" && Self.value("te", headers) == "trailers")
        #expect(Self.value("grpc-encoding", headers) == "gzip" && Self.value("authorization", headers) == "Bearer tok")
        #expect(Self.value("grpc-timeout", headers).flatMap(GRPCWire.timeout).map { $0 >= .seconds(2) } == true)
        #expect(Self.value("x-request-id", headers) == "r1")
        #expect(throws: RPCError.self) { try client.sendRequestHeaders(.init(scheme: "http", authority: "h", path: "/a.B/C")) }
        #expect(client.canSendRequestMessage)
        #expect(client.closeRequest() && !client.closeRequest())
        #expect(!client.canSendRequestMessage)

        Self.feed(&client, [(":status", "100")])
        if case .informational = client.receiveResponseHeaders(endStream: false) {} else { Issue.record("1xx is informational") }
        Self.feed(&client, [(":status", "200"), ("content-type", "application/grpc"), ("grpc-encoding", "gzip"), ("x-i", "1")])
        guard case .initialMetadata(let initial) = client.receiveResponseHeaders(endStream: false) else {
            Issue.record("expected initial metadata")
            return
        }
        #expect(initial.first("x-i") == "1")
        #expect(Self.messages(Self.data(&client, GRPCWire.frame([9, 9], compress: true) + GRPCWire.frame([8]))) == [[9, 9], [8]])
        Self.feed(&client, [("grpc-status", "9"), ("grpc-message", "not%20now"), ("x-t", "2")])
        guard case .finished(let status, let trailers, let again) = client.receiveResponseHeaders(endStream: true) else {
            Issue.record("trailers finish the call")
            return
        }
        #expect(status.code == .failedPrecondition && status.message == "not now")
        #expect(trailers.first("x-t") == "2" && again == nil)
        #expect(Self.messages(Self.data(&client, GRPCWire.frame([1]))) == nil)
        #expect(client.receiveEndOfResponse() == nil)
        #expect(client.streamClosed(errorCode: HTTP2ErrorCode.cancel) == nil)
        let abandoned = client.abandon()
        #expect(!abandoned, "an ended call is not abandoned again")
    }

    @Test("client: non-gRPC answers, missing statuses and resets map to gRPC codes")
    func clientFailures() {
        func headers(_ fields: [(String, String)], endStream: Bool) -> Machine.ResponseHeadersAction {
            var client = Machine(role: .client, maxMessageSize: 64)
            _ = try? client.sendRequestHeaders(.init(scheme: "http", authority: "h", path: "/a.B/C"))
            Self.feed(&client, fields)
            return client.receiveResponseHeaders(endStream: endStream)
        }
        for (http, code) in [(404, StatusCode.unimplemented), (503, .unavailable), (401, .unauthenticated), (418, .unknown)] {
            if case .abort(let status) = headers([(":status", String(http))], endStream: true) {
                #expect(status.code == code, "\(http)")
            } else {
                Issue.record("HTTP \(http) aborts")
            }
        }
        if case .abort(let status) = headers([(":status", "200"), ("content-type", "text/html")], endStream: false) {
            #expect(status.code == .unknown)
        } else {
            Issue.record("a non-gRPC content type aborts")
        }
        if case .abort(let status) = headers([(":status", "200"), ("content-type", "application/grpc"), ("grpc-encoding", "zstd")], endStream: false) {
            #expect(status.code == .internal)
        } else {
            Issue.record("an unknown response encoding aborts")
        }
        if case .finished(let status, _, let initial) = headers(
            [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"), ("grpc-message", "gone")], endStream: true) {
            #expect(status.code == .notFound && status.message == "gone" && initial == nil)
        } else {
            Issue.record("a trailers-only answer finishes the call")
        }
        if case .finished(let status, _, _) = headers([(":status", "200"), ("content-type", "application/grpc")], endStream: true) {
            #expect(status.code == .internal, "no grpc-status")
        } else {
            Issue.record("a trailers-only answer without a status finishes the call")
        }
        for (error, code) in [(HTTP2ErrorCode.refusedStream, StatusCode.unavailable), (HTTP2ErrorCode.cancel, .cancelled),
                              (HTTP2ErrorCode.enhanceYourCalm, .resourceExhausted), (HTTP2ErrorCode.protocolError, .internal)] {
            var client = Machine(role: .client, maxMessageSize: 64)
            #expect(client.streamClosed(errorCode: error)?.code == code)
            #expect(client.streamClosed(errorCode: error) == nil, "one outcome per call")
        }
        var client = Machine(role: .client, maxMessageSize: 64)
        Self.feed(&client, [(":status", "200"), ("content-type", "application/grpc")])
        _ = client.receiveResponseHeaders(endStream: false)
        #expect(client.receiveEndOfResponse()?.code == .internal, "END_STREAM on DATA without trailers")
    }

    @Test("a client machine and a server machine speak to each other: random message sizes cut at random points")
    func clientServerRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var client = Machine(role: .client, maxMessageSize: 4096)
            var server = Machine(role: .server, maxMessageSize: 4096)
            var metadata = Metadata()
            metadata.add("x-n", String(Int.random(in: 0..<1000, using: &generator)))
            let gzip = Bool.random(using: &generator)
            Self.feed(&server, try client.sendRequestHeaders(.init(
                scheme: "http", authority: "h", path: "/x.Y/Z", compress: gzip, metadata: metadata)))
            guard case .accept(let head) = server.receiveRequestHeaders(endStream: false) else {
                Issue.record("the server accepts the client's headers")
                return
            }
            #expect(head.path == "/x.Y/Z" && head.metadata.first("x-n") == metadata.first("x-n"))
            let sent = (0..<Int.random(in: 1...4, using: &generator)).map { _ in
                (0..<Int.random(in: 0...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            var wire = sent.flatMap { GRPCWire.frame($0, compress: gzip) }
            var got: [[UInt8]] = []
            while !wire.isEmpty {
                let cut = Int.random(in: 1...wire.count, using: &generator)
                got += Self.messages(Self.data(&server, Array(wire.prefix(cut)))) ?? []
                wire.removeFirst(cut)
            }
            #expect(got == sent)
            #expect(client.closeRequest() && server.receiveEndOfRequest() == nil)
            Self.feed(&client, try #require(try server.sendResponseMessage(initialMetadata: Metadata())))
            guard case .initialMetadata = client.receiveResponseHeaders(endStream: false) else {
                Issue.record("the client takes the server's headers")
                return
            }
            #expect(Self.messages(Self.data(&client, GRPCWire.frame(got.last ?? []))) == [got.last ?? []])
            guard case .trailers(let trailers) = server.sendStatus(RPCError(.aborted, "conflict: 100%"), trailingMetadata: Metadata(), initialMetadata: Metadata()) else {
                Issue.record("trailers")
                return
            }
            Self.feed(&client, trailers)
            guard case .finished(let status, _, _) = client.receiveResponseHeaders(endStream: true) else {
                Issue.record("the client finishes on the trailers")
                return
            }
            #expect(status.code == .aborted && status.message == "conflict: 100%")
        }
    }
}
