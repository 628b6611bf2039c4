import Foundation
import HoldingsProto

/// Encode and decode throughput of a Position with 20 lots (the same message as
/// `Tests/interop/samples.py bench`). Prints the median of 7 runs; asserts nothing.

func timestamp(_ seconds: Int64) -> Google_Protobuf_Timestamp {
    var value = Google_Protobuf_Timestamp()
    value.seconds = seconds
    return value
}

var position = Ultracore_Holdings_V1_Position()
position.positionId = "pos-0001"
position.clientId = "client-0001"
position.ticker = "AAPL"
position.status = .open
position.quantity = "2000"
position.costBasis = "350123.45"
position.averageCost = "175.061725"
position.lastPrice = "181.25"
position.marketValue = "362500.00"
position.unrealizedGain = "12376.55"
position.realizedGain = "0"
position.version = 21
position.lastPricedAt = timestamp(1_764_000_000)
for index in 0..<20 {
    var lot = Ultracore_Holdings_V1_Lot()
    let cost = 170 + Double(index) * 0.5
    lot.lotId = "lot-" + String(repeating: "0", count: 4 - String(index).count) + String(index)
    lot.acquiredAt = timestamp(1_700_000_000 + Int64(index) * 86_400)
    lot.quantity = "100"
    lot.originalQuantity = "100"
    lot.unitCost = String(format4(cost))
    lot.costBasis = String(format: "%.2f", cost * 100)
    lot.fees = "1.00"
    lot.term = .shortTerm
    lot.marketValue = "18125.00"
    lot.unrealizedGain = "100.00"
    lot.sourceEventId = "evt-" + String(repeating: "0", count: 8 - String(index).count) + String(index)
    position.lots.append(lot)
}

func format4(_ value: Double) -> String {
    let scaled = Int((value * 10_000).rounded())
    let fraction = String(scaled % 10_000)
    return "\(scaled / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
}

let bytes = position.serializedBytes()
let iterations = Int(ProcessInfo.processInfo.environment["BENCH_ITERATIONS"] ?? "") ?? 20_000

func median(_ body: () throws -> Void) rethrows -> Double {
    var rates: [Double] = []
    for _ in 0..<7 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { try body() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        rates.append(Double(iterations) / seconds)
    }
    return rates.sorted()[rates.count / 2]
}

var sink = 0
let encode = median { sink &+= position.serializedBytes().count }
let decode = try median { sink &+= try Ultracore_Holdings_V1_Position(serializedBytes: bytes).lots.count }
let check = try Ultracore_Holdings_V1_Position(serializedBytes: bytes)
precondition(check == position, "decode(encode(position)) != position")
func rate(_ value: Double) -> String {
    let rounded = Int(value.rounded())
    var digits = String(rounded)
    var groups: [String] = []
    while digits.count > 3 {
        groups.insert(String(digits.suffix(3)), at: 0)
        digits.removeLast(3)
    }
    groups.insert(digits, at: 0)
    return groups.joined(separator: ",")
}
print("swift ProtoCodec (protobuf-c) Position(20 lots, \(bytes.count) bytes): "
    + "encode \(rate(encode)) msg/s, decode \(rate(decode)) msg/s (median of 7 x \(iterations))"
    + (sink == 42 ? "" : ""))
