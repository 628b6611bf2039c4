import HoldingsProto
import HoldingsProtoSamples
import ProtoCodec
import ProtoSampling
import Testing

/// A small deterministic generator (SplitMix64) so failures can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Decodes `bytes` as `type`; true when it decoded, false when it threw ProtoDecodingError.
func decodes<T: ProtoMessage>(_ bytes: [UInt8], as type: T.Type) -> Bool {
    do {
        let value = try T(serializedBytes: bytes)
        _ = value.serializedBytes()  // whatever decoded must encode again
        return true
    } catch {
        return false
    }
}

@Suite("Hostile bytes give a thrown error, never a crash")
struct HostileInputTests {
    typealias Position = Ultracore_Holdings_V1_Position
    typealias Event = Ultracore_Holdings_V1_Event

    @Test("every truncation of a full event either throws or decodes")
    func truncations() {
        let bytes = Event.sample(variant: 0).serializedBytes()
        var thrown = 0
        for length in 0..<bytes.count where !decodes(Array(bytes[..<length]), as: Event.self) {
            thrown += 1
        }
        // Most cuts land inside a length-delimited field or a varint.
        #expect(thrown > bytes.count / 2)
        #expect(!decodes(Array(bytes.dropLast()), as: Event.self))
    }

    @Test("a length past the end is malformed")
    func lengthPastEnd() {
        #expect(throws: ProtoDecodingError(.malformed, "ultracore.holdings.v1.Position")) {
            try Position(serializedBytes: [0x0a, 0x10, 0x41, 0x42])
        }
        // A nested message whose length runs past its parent.
        #expect(!decodes([0x6a, 0x02, 0x0a, 0x05, 0x41], as: Position.self))
    }

    @Test("a wire type that does not match the field is malformed")
    func wrongWireType() {
        // position_id (field 1, a string) sent as a varint.
        #expect(!decodes([0x08, 0x01], as: Position.self))
        // lots (field 13, a message) sent as fixed32.
        #expect(!decodes([0x6d, 0x01, 0x02, 0x03, 0x04], as: Position.self))
        // version (field 16, int64) sent length-delimited.
        #expect(!decodes([0x82, 0x01, 0x01, 0x00], as: Position.self))
        // Groups (wire types 3 and 4) are not supported by proto3.
        #expect(!decodes([0x0b, 0x0c], as: Position.self))
    }

    @Test("an over-long varint is malformed")
    func overlongVarint() {
        #expect(!decodes([0x80, 0x01] + [UInt8](repeating: 0xff, count: 11), as: Position.self))
    }

    @Test("invalid UTF-8 names the field, also when nested")
    func invalidUTF8() throws {
        #expect(throws: ProtoDecodingError(.invalidUTF8, "ultracore.holdings.v1.Position.position_id")) {
            try Position(serializedBytes: [0x0a, 0x02, 0xff, 0xfe])
        }
        // An overlong encoding of '/' and a lone surrogate are invalid too.
        #expect(!decodes([0x0a, 0x02, 0xc0, 0xaf], as: Position.self))
        #expect(!decodes([0x0a, 0x03, 0xed, 0xa0, 0x80], as: Position.self))
        // Event.position_opened (20) → PositionOpened.lot (4) → Lot.lot_id (1) = 0xff.
        var lot: [UInt8] = [0x0a, 0x01, 0xff]
        lot = [0x22, UInt8(lot.count)] + lot
        let bytes: [UInt8] = [0xa2, 0x01, UInt8(lot.count)] + lot
        #expect(throws: ProtoDecodingError(.invalidUTF8, "ultracore.holdings.v1.Lot.lot_id")) {
            try Event(serializedBytes: bytes)
        }
        // A map key.
        #expect(throws: ProtoDecodingError(.invalidUTF8, "ultracore.holdings.v1.Event.attributes")) {
            try Event(serializedBytes: [0x72, 0x05, 0x0a, 0x01, 0xff, 0x12, 0x00])
        }
    }

    @Test("deep nesting: 100,000 levels inside an unknown field, and a deep known chain")
    func deepNesting() {
        var inner: [UInt8] = []
        for _ in 0..<100_000 {
            var length = inner.count
            var prefix: [UInt8] = [0x7a]  // field 15, length-delimited (unknown to Timestamp)
            repeat {
                let byte = UInt8(length & 0x7f)
                length >>= 7
                prefix.append(length > 0 ? byte | 0x80 : byte)
            } while length > 0
            inner = prefix + inner
        }
        // Unknown fields are skipped as opaque bytes: no recursion, no crash.
        #expect(decodes(inner, as: Google_Protobuf_Timestamp.self))
        // The deepest known chain (Event → PositionOpened → Lot → Timestamp), 200 messages merged.
        let chain = Event.sample(variant: 0).serializedBytes()
        var many: [UInt8] = []
        for _ in 0..<200 { many += chain }
        #expect(decodes(many, as: Event.self))
    }

    @Test("100,000 random inputs and 100,000 mutations of valid messages never crash")
    func fuzz() {
        var random = SplitMix64(state: 0x5EED)
        let targets: [any ProtoSample.Type] = [
            Ultracore_Holdings_V1_Event.self, Ultracore_Holdings_V1_Position.self,
            Ultracore_Holdings_V1_SellLotsRequest.self, Ultracore_Holdings_V1_EvaluateRebalancingRequest.self,
            Ultracore_Holdings_V1_ComputePerformanceRequest.self, Ultracore_Holdings_V1_TrainPolicyRequest.self,
        ]
        func decodeAny(_ bytes: [UInt8], _ type: any ProtoSample.Type) -> Bool { decodes(bytes, as: type) }
        var accepted = 0
        var rejected = 0
        for iteration in 0..<100_000 {
            let length = Int.random(in: 0...48, using: &random)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if decodeAny(bytes, targets[iteration % targets.count]) { accepted += 1 } else { rejected += 1 }
        }
        for iteration in 0..<100_000 {
            let type = targets[iteration % targets.count]
            var bytes = Self.sampleBytes(type, variant: iteration)
            let mutations = Int.random(in: 1...4, using: &random)
            for _ in 0..<mutations {
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                case 1: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &random)...)
                    if bytes.isEmpty { bytes = [0] }
                default: bytes.insert(UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0..<bytes.count, using: &random))
                }
            }
            if decodeAny(bytes, type) { accepted += 1 } else { rejected += 1 }
        }
        #expect(accepted + rejected == 200_000)
        #expect(rejected > 10_000, "the fuzz loop should hit many malformed inputs")
        #expect(accepted > 1_000, "the fuzz loop should also produce decodable inputs")
    }

    static func sampleBytes(_ type: any ProtoSample.Type, variant: Int) -> [UInt8] {
        func bytes<T: ProtoSample>(_ t: T.Type) -> [UInt8] { T.sample(variant: variant % T.sampleVariants).serializedBytes() }
        return bytes(type)
    }
}
