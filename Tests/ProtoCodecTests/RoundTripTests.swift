import HoldingsProto
import HoldingsProtoSamples
import ProtoCodec
import ProtoSampling
import Testing

/// Encodes and decodes one sample; returns what went wrong, if anything.
func roundTripFailures<T: ProtoSample>(_ type: T.Type) -> [String] {
    var failures: [String] = []
    for variant in 0..<T.sampleVariants {
        let original = T.sample(variant: variant)
        let bytes = original.serializedBytes()
        if bytes.isEmpty && original != T() { failures.append("\(T.protoMessageName)#\(variant): sample encodes to no bytes") }
        if original.serializedSize() != bytes.count { failures.append("\(T.protoMessageName)#\(variant): serializedSize disagrees") }
        do {
            let decoded = try T(serializedBytes: bytes)
            if decoded != original { failures.append("\(T.protoMessageName)#\(variant): decoded value differs") }
            if decoded.serializedBytes() != bytes { failures.append("\(T.protoMessageName)#\(variant): re-encoding differs") }
        } catch {
            failures.append("\(T.protoMessageName)#\(variant): \(error)")
        }
    }
    let empty = T()
    if !empty.serializedBytes().isEmpty { failures.append("\(T.protoMessageName): default value is not empty on the wire") }
    if (try? T(serializedBytes: [UInt8]())) != empty { failures.append("\(T.protoMessageName): empty bytes do not decode to the default") }
    return failures
}

@Suite("Round trip of every generated message")
struct RoundTripTests {
    @Test("every message type, every oneof member, every field set")
    func everyMessage() {
        #expect(allProtoSampleTypes.count >= 100)
        var failures: [String] = []
        for type in allProtoSampleTypes { failures += roundTripFailures(type) }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    @Test("samples really set nested messages, repeated fields, maps and oneofs")
    func samplesAreFull() throws {
        let event = Ultracore_Holdings_V1_Event.sample(variant: 0)
        #expect(event.attributes.count == 2)
        #expect(event.failedQualityRules.count == 2)
        guard case .positionOpened(let opened)? = event.payload else {
            Issue.record("variant 0 should set the first oneof member")
            return
        }
        #expect(opened.lot?.acquiredAt != nil)
        #expect(opened.lot?.quantity == "s3-2-é€😀")
        let request = Ultracore_Holdings_V1_EvaluateRebalancingRequest.sample()
        #expect(request.assetBands.count == 2)
        #expect(request.assetBands.values.allSatisfy { $0.absolute.hasPrefix("s1-") })
        let last = Ultracore_Holdings_V1_Event.sample(variant: 10)
        guard case .policyTrained(let trained)? = last.payload else {
            Issue.record("variant 10 should set the eleventh oneof member")
            return
        }
        #expect(trained.weights == [0, 255, 5, 1])  // field 5 at depth 1
    }

    @Test("a hand-built position survives the trip with exact decimals")
    func handBuiltPosition() throws {
        var position = Ultracore_Holdings_V1_Position()
        position.positionId = "pos-1"
        position.ticker = "AAPL"
        position.status = .open
        position.quantity = "150.000001"
        var lot = Ultracore_Holdings_V1_Lot()
        lot.lotId = "lot-1"
        lot.unitCost = "123456789012345678.123456789"
        lot.term = .longTerm
        var acquired = Google_Protobuf_Timestamp()
        acquired.seconds = 1_700_000_000
        acquired.nanos = 123_456_789
        lot.acquiredAt = acquired
        position.lots = [lot, lot]
        let decoded = try Ultracore_Holdings_V1_Position(serializedBytes: position.serializedBytes())
        #expect(decoded == position)
        #expect(decoded.lots[1].unitCost == "123456789012345678.123456789")
        #expect(decoded.lots[0].acquiredAt?.nanos == 123_456_789)
    }

    @Test("unknown enum numbers are kept, singular and repeated")
    func unknownEnums() throws {
        var position = Ultracore_Holdings_V1_Position()
        position.status = .UNRECOGNIZED(42)
        let decoded = try Ultracore_Holdings_V1_Position(serializedBytes: position.serializedBytes())
        #expect(decoded.status == .UNRECOGNIZED(42))
        #expect(decoded.status.protoName == nil)
        // Field 4 (status), varint 7: unknown to this build.
        let fromWire = try Ultracore_Holdings_V1_Position(serializedBytes: [0x20, 0x07])
        #expect(fromWire.status == .UNRECOGNIZED(7))
        #expect(fromWire.serializedBytes() == [0x20, 0x07])

        var request = Ultracore_Holdings_V1_ListEventsRequest()
        request.eventTypes = [.UNRECOGNIZED(99), .lotsSold, .UNRECOGNIZED(-7)]
        let back = try Ultracore_Holdings_V1_ListEventsRequest(serializedBytes: request.serializedBytes())
        #expect(back.eventTypes == [.UNRECOGNIZED(99), .lotsSold, .UNRECOGNIZED(-7)])
        #expect(Ultracore_Holdings_V1_CostBasisMethod(rawValue: 5) == .specificId)
        #expect(Ultracore_Holdings_V1_CostBasisMethod.allCases.count == 6)
    }

    @Test("map entries are written in key order, so equal maps give equal bytes")
    func deterministicMaps() {
        var a = Ultracore_Holdings_V1_EvaluateRebalancingRequest()
        var b = a
        for (index, ticker) in ["MSFT", "AAPL", "VTI", "BND", "GLD"].enumerated() {
            a.targetWeights[ticker] = "0.\(index)"
        }
        for (index, ticker) in ["MSFT", "AAPL", "VTI", "BND", "GLD"].enumerated().reversed() {
            b.targetWeights[ticker] = "0.\(index)"
        }
        #expect(a.serializedBytes() == b.serializedBytes())
    }
}
