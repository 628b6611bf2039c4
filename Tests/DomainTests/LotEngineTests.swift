import Domain
import Testing

/// Deterministic generator for the property tests (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct LotEngineTests {
    static let day: Int64 = 86_400_000_000
    static let t0 = Instant(microseconds: 1_735_689_600_000_000)  // 2025-01-01

    static func lot(_ n: Int, _ quantity: String, _ basis: String, day: Int64) -> LotState {
        LotState(lotId: "L\(n)", sequence: n, acquiredAt: Instant(microseconds: t0.microseconds + day * Self.day),
                 quantity: ExactDecimal(quantity)!, originalQuantity: ExactDecimal(quantity)!,
                 costBasis: ExactDecimal(basis)!, fees: .zero, sourceEventId: "e\(n)")
    }

    // 10 @ 10 (day 0), 10 @ 30 (day 10), 10 @ 20 (day 20)
    static let lots = [lot(1, "10", "100", day: 0), lot(2, "10", "300", day: 10), lot(3, "10", "200", day: 20)]

    func sell(_ quantity: String, _ method: LotSelectionMethod, fees: String = "0", days: Int64 = 30) throws -> Sale {
        try LotEngine.sell(Self.lots, quantity: ExactDecimal(quantity)!, price: ExactDecimal("25")!, fees: ExactDecimal(fees)!,
                           method: method, at: Instant(microseconds: Self.t0.microseconds + days * Self.day))
    }

    @Test func eachMethodPicksItsLots() throws {
        let fifo = try sell("15", .fifo)
        #expect(fifo.realized.map(\.lotId) == ["L1", "L2"])
        #expect(fifo.realized.map(\.costBasis) == [ExactDecimal("100")!, ExactDecimal("150")!])
        #expect(fifo.totalRealizedGain == ExactDecimal("125"))  // 375 − 250
        let lifo = try sell("15", .lifo)
        #expect(lifo.realized.map(\.lotId) == ["L3", "L2"])
        #expect(lifo.totalRealizedGain == ExactDecimal("25"))  // 375 − (200 + 150)
        let hifo = try sell("15", .hifo)
        #expect(hifo.realized.map(\.lotId) == ["L2", "L3"])
        #expect(hifo.totalRealizedGain == ExactDecimal("-25"))  // 375 − (300 + 100)
        let average = try sell("15", .average)
        #expect(average.totalRealizedGain == ExactDecimal("75"))  // average 20: 375 − 300
        #expect(average.remaining.map(\.costBasis).reduce(ExactDecimal.zero) { try! $0.adding($1) } == ExactDecimal("300"))
        let specific = try sell("4", .specific([("L3", ExactDecimal("3")!), ("L1", ExactDecimal("1")!)]))
        #expect(specific.realized.map(\.lotId) == ["L3", "L1"])
        #expect(specific.totalRealizedGain == ExactDecimal("30"))  // 100 − (60 + 10)
        #expect(specific.remaining.first { $0.lotId == "L3" }?.quantity == ExactDecimal("7"))
    }

    @Test func feesAreSplitByQuantityAndTermsFollowTheCalendar() throws {
        let sale = try sell("15", .fifo, fees: "1", days: 366 + 5)  // 2026-01-07: L1 (2025-01-01) is long, L2 (01-11) short
        #expect(sale.realized.map(\.proceeds) == [ExactDecimal("249.3333333333")!, ExactDecimal("124.6666666667")!])
        #expect(sale.realized.map(\.term) == [.long, .short])
    }

    @Test func refusalsNameTheProblem() {
        #expect(throws: DomainError.failedPrecondition("cannot sell 31 shares: 30 are held")) { try sell("31", .fifo) }
        #expect(throws: DomainError.self) { try sell("0", .fifo) }
        #expect {
            try sell("1", .specific([("L9", ExactDecimal("1")!)]))
        } throws: { error in
            guard case DomainError.invalidArgument("lot_selections", let reason) = error else { return false }
            return reason.contains("L9")
        }
        #expect(throws: DomainError.self) { try sell("11", .specific([("L1", ExactDecimal("11")!)])) }
        #expect(throws: DomainError.self) { try sell("2", .specific([("L1", ExactDecimal("1")!)])) }
    }

    /// Random buys and sells with every method: shares and basis are conserved exactly,
    /// proceeds add up to quantity × price − fees.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func sharesAndBasisAreConserved(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        for _ in 0..<50 {
            var lots: [LotState] = []
            for n in 1...Int.random(in: 1...12, using: &random) {
                let quantity = ExactDecimal("\(Int.random(in: 1...5000, using: &random)).\(Int.random(in: 0...999, using: &random))")!
                let price = ExactDecimal("\(Int.random(in: 1...900, using: &random)).\(Int.random(in: 0...9999, using: &random))")!
                lots.append(LotState(
                    lotId: "L\(n)", sequence: n,
                    acquiredAt: Instant(microseconds: Self.t0.microseconds + Int64.random(in: 0...800, using: &random) * Self.day),
                    quantity: quantity, originalQuantity: quantity, costBasis: try quantity.multiplied(by: price), fees: .zero,
                    sourceEventId: "e\(n)"))
            }
            let held = lots.reduce(ExactDecimal.zero) { try! $0.adding($1.quantity) }
            let basis = lots.reduce(ExactDecimal.zero) { try! $0.adding($1.costBasis) }
            let fraction = ExactDecimal(Int.random(in: 1...1000, using: &random))
            let scaled = try held.multiplied(by: fraction).divided(by: ExactDecimal(1000), scale: 3)
            let quantity = min(held, max(ExactDecimal("0.001")!, scaled))
            let price = ExactDecimal("\(Int.random(in: 1...900, using: &random)).25")!
            let fees = ExactDecimal("\(Int.random(in: 0...20, using: &random)).37")!
            let methods: [LotSelectionMethod] = [.fifo, .lifo, .hifo, .average]
            for method in methods {
                let sale = try LotEngine.sell(lots, quantity: quantity, price: price, fees: fees, method: method,
                                              at: Instant(microseconds: Self.t0.microseconds + 900 * Self.day))
                let sold = sale.realized.reduce(ExactDecimal.zero) { try! $0.adding($1.quantity) }
                let left = sale.remaining.reduce(ExactDecimal.zero) { try! $0.adding($1.quantity) }
                #expect(try sold.adding(left) == held)
                #expect(sold == quantity)
                let realizedBasis = sale.realized.reduce(ExactDecimal.zero) { try! $0.adding($1.costBasis) }
                let remainingBasis = sale.remaining.reduce(ExactDecimal.zero) { try! $0.adding($1.costBasis) }
                #expect(try realizedBasis.adding(remainingBasis) == basis)
                let proceeds = sale.realized.reduce(ExactDecimal.zero) { try! $0.adding($1.proceeds) }
                #expect(try proceeds == quantity.multiplied(by: price).subtracting(fees))
                #expect(sale.remaining.allSatisfy { $0.quantity.isPositive && !$0.costBasis.isNegative })
            }
        }
    }
}
