import GRPCTransport
import RPCCore
import Testing

@Suite("gRPC wire details")
struct WireTests {
    @Test("grpc-message percent-encoding round-trips any text, including controls and non-BMP characters")
    func percentEncoding() {
        for text in ["plain", "100% sure", "\t\nwhite\r\n", "Unicode BMP \u{263A} and non-BMP \u{1F608}", ""] {
            let encoded = GRPCWire.percentEncode(text)
            #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E })
            #expect(GRPCWire.percentDecode(encoded) == text)
        }
        #expect(GRPCWire.percentDecode("bad %G1 escape %") == "bad %G1 escape %")
    }

    @Test("grpc-timeout parses the six units and refuses malformed values; encoding fits 8 digits and never shortens")
    func timeouts() {
        #expect(GRPCWire.timeout("1H") == .seconds(3600))
        #expect(GRPCWire.timeout("2M") == .seconds(120))
        #expect(GRPCWire.timeout("3S") == .seconds(3))
        #expect(GRPCWire.timeout("4m") == .milliseconds(4))
        #expect(GRPCWire.timeout("5u") == .microseconds(5))
        #expect(GRPCWire.timeout("6n") == .nanoseconds(6))
        for bad in ["", "S", "123456789S", "-1S", "+1S", "1s", "1 S", "１S"] { #expect(GRPCWire.timeout(bad) == nil, "\(bad)") }
        for duration: Duration in [.nanoseconds(1), .milliseconds(1), .seconds(1), .seconds(86_400 * 365), .seconds(3600 * 99_999_998)] {
            let header = GRPCWire.timeoutHeader(duration)
            #expect(header.count <= 9, "\(header)")
            let parsed = GRPCWire.timeout(header)
            #expect(parsed != nil && parsed! >= duration, "\(duration) -> \(header)")
        }
        #expect(GRPCWire.timeoutHeader(.seconds(Int64.max / 2)) == "99999999H")  // the longest a header can say
    }

    @Test("base64 of every length round-trips, padded or not; junk is refused")
    func base64() {
        for length in 0..<64 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let encoded = Base64.encode(bytes)
            #expect(Base64.decode(encoded) == bytes)
            #expect(Base64.decode(encoded + String(repeating: "=", count: (4 - encoded.count % 4) % 4)) == bytes)
        }
        #expect(Base64.decode("a") == nil)
        #expect(Base64.decode("ab$c") == nil)
    }

    @Test("gzip round-trips; a bomb stops at the limit; corrupt input is an error")
    func gzip() throws {
        let text = [UInt8]((0..<100_000).map { UInt8($0 % 251) })
        #expect(try Gzip.decompress(Gzip.compress(text), limit: 1 << 20) == text)
        let bomb = Gzip.compress([UInt8](repeating: 0, count: 50 << 20))
        #expect(bomb.count < 100_000)
        #expect(throws: Gzip.Failure.tooLarge) { try Gzip.decompress(bomb, limit: 4 << 20) }
        #expect(throws: Gzip.Failure.corrupt) { try Gzip.decompress([1, 2, 3, 4, 5], limit: 100) }
        #expect(throws: Gzip.Failure.corrupt) { try Gzip.decompress(Array(Gzip.compress(text).dropLast(9)), limit: 1 << 20) }
    }

    @Test("the deframer reassembles messages split at every byte and several in one chunk")
    func deframer() throws {
        let messages: [[UInt8]] = [[], [1], [UInt8](repeating: 7, count: 300), [9, 9]]
        let wire = messages.flatMap { GRPCWire.frame($0) } + GRPCWire.frame([5, 5, 5], compress: true)
        for split in 0...wire.count {
            var deframer = MessageDeframer(maxMessageSize: 1000)
            deframer.gzip = true
            var out: [(message: [UInt8], wireSize: Int, compressed: Bool)] = []
            try wire[..<split].withUnsafeBytes { out += try deframer.append($0) }
            try wire[split...].withUnsafeBytes { out += try deframer.append($0) }
            #expect(out.map(\.message) == messages + [[5, 5, 5]])
            #expect(out.map(\.compressed) == [false, false, false, false, true])
            #expect(out.map(\.wireSize).reduce(0, +) == wire.count)
            #expect(!deframer.hasPartialMessage)
        }
        var strict = MessageDeframer(maxMessageSize: 10)
        #expect(throws: MessageDeframer.Failure.compressedWithoutEncoding) {
            try GRPCWire.frame([1], compress: true).withUnsafeBytes { _ = try strict.append($0) }
        }
        var small = MessageDeframer(maxMessageSize: 10)
        #expect(throws: MessageDeframer.Failure.tooLarge(11)) {
            try GRPCWire.frame([UInt8](repeating: 0, count: 11)).withUnsafeBytes { _ = try small.append($0) }
        }
        var flags = MessageDeframer(maxMessageSize: 10)
        #expect(throws: MessageDeframer.Failure.badFlag(2)) { try [2, 0, 0, 0, 0].withUnsafeBytes { _ = try flags.append($0) } }
    }

    @Test("metadata: -bin values go out as base64 and come back as bytes; bad keys and values are refused")
    func metadata() throws {
        var metadata = Metadata()
        metadata.add("x-text", "value")
        metadata.add("x-data-bin", binary: [0, 255, 128])
        let headers = try GRPCWire.headers(from: metadata)
        #expect(headers.map(\.0) == ["x-text", "x-data-bin"])
        #expect(GRPCWire.metadata(from: headers + [(":path", "/x"), ("content-type", "application/grpc")]) == metadata)
        for key in ["has space", "ümlaut", "grpc-status", ":path", ""] {
            var bad = Metadata()
            bad.add(key, "v")
            #expect(throws: RPCError.self) { try GRPCWire.headers(from: bad) }
        }
        var control = Metadata()
        control.add("x-text", "line\nbreak")
        #expect(throws: RPCError.self) { try GRPCWire.headers(from: control) }
    }
}
