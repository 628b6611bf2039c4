import Domain
import HoldingsProto
import Testing

/// Random sequences of buys, sells (every method), splits and dividends on one position,
/// through the same decisions and events the service uses.
@Suite struct SequenceTests {
    static let day: Int64 = 86_400_000_000
    static let t0 = Instant(microseconds: 1_704_067_200_000_000)  // 2024-01-01

    struct Ledger {
        var boughtBasis = ExactDecimal.zero
        var realizedBasis = ExactDecimal.zero
    }

    func context(_ n: Int, _ at: Instant) -> EventContext {
        let id = "00000000-0000-4000-8000-\(String(n, radix: 16).leftPad(12))"
        return EventContext(eventId: id, occurredAt: at, correlationId: id, causationId: id, source: "test", requestId: "")
    }

    @Test(arguments: [11, 12, 13, 14, 15, 16] as [UInt64])
    func invariantsHoldAndReplayEqualsLiveState(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        for _ in 0..<20 {
            var position: PositionState?
            var events: [Ultracore_Holdings_V1_Event] = []
            var ledger = Ledger()
            var clock = Self.t0
            for step in 0..<40 {
                clock = Instant(microseconds: clock.microseconds + Int64.random(in: 1...40, using: &random) * Self.day)
                let ctx = context(step + 1, clock)
                let choice = position == nil ? 0 : Int.random(in: 0..<10, using: &random)
                var event: Ultracore_Holdings_V1_Event
                switch choice {
                case 0...3:
                    var request = Ultracore_Holdings_V1_OpenPositionRequest()
                    request.clientId = "c"
                    request.ticker = "SEQ"
                    request.quantity = "\(Int.random(in: 1...400, using: &random)).\(Int.random(in: 0...99, using: &random))"
                    request.price = "\(Int.random(in: 1...300, using: &random)).\(Int.random(in: 0...9999, using: &random))"
                    request.fees = "\(Int.random(in: 0...5, using: &random))"
                    request.tradeTime = clock.timestamp
                    let command = try OpenPositionCommand(request, now: clock)
                    event = try command.decide(existing: position, newPositionId: "p", context: ctx)
                    let lot = event.positionOpened?.lot ?? event.lotAdded!.lot!
                    ledger.boughtBasis = try ledger.boughtBasis.adding(ExactDecimal(lot.costBasis)!)
                case 4...6:
                    let held = position!.quantity
                    let fraction = ExactDecimal(Int.random(in: 1...100, using: &random))
                    var quantity = try held.multiplied(by: fraction, scale: 2).divided(by: ExactDecimal(100), scale: 2)
                    if !quantity.isPositive { quantity = held }
                    quantity = min(quantity, held)
                    var request = Ultracore_Holdings_V1_SellLotsRequest()
                    request.clientId = "c"
                    request.ticker = "SEQ"
                    request.quantity = quantity.description
                    request.price = "\(Int.random(in: 1...300, using: &random)).5"
                    request.fees = "1.25"
                    request.tradeTime = clock.timestamp
                    let methods: [Ultracore_Holdings_V1_CostBasisMethod] = [.fifo, .lifo, .hifo, .average, .specificId]
                    request.method = methods[Int.random(in: 0..<5, using: &random)]
                    if request.method == .specificId {
                        // Take what is needed from the lots in a random order.
                        var left = quantity
                        for lot in position!.lots.shuffled(using: &random) where left.isPositive {
                            let take = min(left, lot.quantity)
                            var selection = Ultracore_Holdings_V1_LotSelection()
                            selection.lotId = lot.lotId
                            selection.quantity = take.description
                            request.lotSelections.append(selection)
                            left = try left.subtracting(take)
                        }
                    }
                    let command = try SellCommand(request, now: clock)
                    let (sold, sale) = try command.decide(position!, context: ctx)
                    event = sold
                    #expect(try sale.realized.reduce(ExactDecimal.zero) { try $0.adding($1.quantity) } == quantity)
                    for part in sale.realized { ledger.realizedBasis = try ledger.realizedBasis.adding(part.costBasis) }
                    // Wash sales move disallowed losses into replacement lots: basis that was not bought.
                    for match in sold.lotsSold?.washSaleMatches ?? [] {
                        ledger.boughtBasis = try ledger.boughtBasis.adding(ExactDecimal(match.disallowedLoss)!)
                    }
                case 7:
                    var request = Ultracore_Holdings_V1_ApplyCorporateActionRequest()
                    request.ticker = "SEQ"
                    request.type = .split
                    let ratios = [(2, 1), (3, 2), (1, 3), (5, 4), (1, 10)]
                    let (to, from) = ratios[Int.random(in: 0..<ratios.count, using: &random)]
                    request.splitTo = String(to)
                    request.splitFrom = String(from)
                    request.cashInLieuPrice = "\(Int.random(in: 1...300, using: &random))"
                    request.effectiveAt = clock.timestamp
                    event = try CorporateAction(request, now: clock).decide(position!, actionId: "a\(step)", context: ctx)
                    let applied = event.corporateActionApplied!
                    if !applied.cashInLieu.isEmpty {
                        // Basis paid out in lieu = cash − gain.
                        let out = try ExactDecimal(applied.cashInLieu)!.subtracting(ExactDecimal(applied.cashInLieuGain)!)
                        ledger.realizedBasis = try ledger.realizedBasis.adding(out)
                    }
                    #expect(ExactDecimal(applied.quantityAfter)!.roundedDown(scale: 0) == ExactDecimal(applied.quantityAfter)!)
                default:
                    var request = Ultracore_Holdings_V1_ApplyCorporateActionRequest()
                    request.ticker = "SEQ"
                    request.type = .cashDividend
                    request.dividendPerShare = "0.\(Int.random(in: 1...99, using: &random))"
                    request.reinvest = Bool.random(using: &random)
                    if request.reinvest { request.reinvestmentPrice = "\(Int.random(in: 1...300, using: &random)).25" }
                    request.effectiveAt = clock.timestamp
                    event = try CorporateAction(request, now: clock).decide(position!, actionId: "a\(step)", context: ctx)
                    if let lot = event.corporateActionApplied?.reinvestedLot {
                        ledger.boughtBasis = try ledger.boughtBasis.adding(ExactDecimal(lot.costBasis)!)
                    }
                }
                let before = position?.quantity ?? .zero
                if var current = position {
                    try current.apply(event)
                    position = current
                } else {
                    position = try PositionState.opened(by: event)
                }
                // Shares: every event moves the quantity by exactly what it says.
                let after = position!.quantity
                switch event.payload {
                case .positionOpened(let opened)?: #expect(after == ExactDecimal(opened.lot!.quantity)!)
                case .lotAdded(let added)?: #expect(after == (try before.adding(ExactDecimal(added.lot!.quantity)!)))
                case .lotsSold(let sold)?: #expect(after == (try before.subtracting(ExactDecimal(sold.quantity)!)))
                case .positionClosed?: #expect(after == .zero)
                case .corporateActionApplied(let applied)?:
                    #expect(ExactDecimal(applied.quantityBefore)! == before)
                    #expect(after == ExactDecimal(applied.quantityAfter)!)
                    if applied.type == .cashDividend {
                        let reinvested = applied.reinvestedLot.map { ExactDecimal($0.quantity)! } ?? .zero
                        #expect(after == (try before.adding(reinvested)))
                    } else {
                        // to/from times the shares before, less the fraction paid in lieu (under one share).
                        let scaled = try before.multiplied(by: ExactDecimal(Int(applied.splitTo)!), scale: 18)
                            .divided(by: ExactDecimal(Int(applied.splitFrom)!))
                        let paid = try scaled.subtracting(after)
                        #expect(!paid.isNegative && paid < ExactDecimal(1), "before \(before) scaled \(scaled) after \(after) lots \(position!.lots.map { ($0.lotId, $0.quantity) }) \(applied.splitTo):\(applied.splitFrom)")
                    }
                default: Issue.record("unexpected event \(event.eventType)")
                }
                events.append(event)
                // Basis: bought = realized + remaining, exactly.
                #expect(try ledger.realizedBasis.adding(position!.costBasis) == ledger.boughtBasis)
                #expect(position!.lots.allSatisfy { $0.quantity.isPositive })
                if position!.status == .closed { break }
            }
            // The events alone, decoded from their bytes, rebuild the same state.
            let decoded = try events.map { try Ultracore_Holdings_V1_Event(serializedBytes: $0.serializedBytes()) }
            var rebuilt = try PositionState.opened(by: decoded[0])
            for event in decoded.dropFirst() { try rebuilt.apply(event) }
            #expect(rebuilt == position)
        }
    }
}

extension Ultracore_Holdings_V1_Event {
    var positionOpened: Ultracore_Holdings_V1_PositionOpened? {
        if case .positionOpened(let value)? = payload { return value }
        return nil
    }
    var lotAdded: Ultracore_Holdings_V1_LotAdded? {
        if case .lotAdded(let value)? = payload { return value }
        return nil
    }
    var lotsSold: Ultracore_Holdings_V1_LotsSold? {
        if case .lotsSold(let sold)? = payload { return sold }
        return nil
    }

    var corporateActionApplied: Ultracore_Holdings_V1_CorporateActionApplied? {
        if case .corporateActionApplied(let value)? = payload { return value }
        return nil
    }
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
