import Domain
import Foundation
import HoldingsProto
import Testing

/// Exact comparisons and results the trust issue showed wrong: unit costs beyond 36 digits,
/// drawdown ties, long-span XIRR, ranges of a command's result.
@Suite struct TrustTests {
    /// compareRatios agrees with exact rational arithmetic on random decimals whose cross
    /// products fit in Int128 (checked directly), and stays exact where they do not.
    @Test func ratioComparisonIsExact() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            func decimal() -> ExactDecimal {
                let scale = Int.random(in: 0...9, using: &random)
                let digits = Int.random(in: 1...9_999_999, using: &random)
                var text = String(digits)
                if scale > 0 {
                    if text.count <= scale { text = String(repeating: "0", count: scale - text.count + 1) + text }
                    text.insert(".", at: text.index(text.endIndex, offsetBy: -scale))
                }
                return ExactDecimal(text)!
            }
            let (a, b, c, d) = (decimal(), decimal(), decimal(), decimal())
            // a/b vs c/d ⇔ a·d vs c·b, exact (at most 18 places, below 10^14).
            let left = try a.multiplied(by: d), right = try c.multiplied(by: b)
            let expected = left < right ? -1 : (left == right ? 0 : 1)
            #expect(ExactDecimal.compareRatios(a, b, c, d) == expected)
        }
        // Beyond 36 digits: 300.000000003 < 600.004… per share after a 1:3 reverse split.
        let cheap = ExactDecimal("1000.00000001")!, cheapQuantity = ExactDecimal("3.3333333333")!
        let dear = ExactDecimal("1200.01")!, dearQuantity = ExactDecimal("1.9999999999")!
        #expect(ExactDecimal.compareRatios(dear, dearQuantity, cheap, cheapQuantity) == 1)
        let third = ExactDecimal("0.333333333333333333")!
        #expect(ExactDecimal.compareRatios(third, ExactDecimal("999999999999999999.999999999999999999")!, third,
                                           ExactDecimal("999999999999999999.999999999999999998")!) == -1)
    }

    @Test func drawdownOnExactValues() {
        func values(_ texts: [String]) -> [ExactDecimal] { texts.map { ExactDecimal($0)! } }
        #expect(ReturnStatistics.drawdown(values: values(["60", "59", "60"])).recovery == 2)
        #expect(ReturnStatistics.drawdown(values: values(["100", "101", "57", "101"])).recovery == 3)
        let ties = ReturnStatistics.drawdown(values: values(["31", "29.5", "30.5", "31", "29"]))
        #expect((ties.peak, ties.trough, ties.duration, ties.recovery) == (3, 4, 1, nil))
        let none = ReturnStatistics.drawdown(values: values(["1", "2", "2", "3"]))
        #expect((none.maxDrawdown, none.peak, none.trough) == (0, 0, 0))
    }

    @Test func xirrBracketsLongSpansAndKeepsItsRange() throws {
        // −100000 now, −1000 after 20 years, +90000 after 40: a rate just below 0.
        let rate = try MoneyWeightedReturn.xirr([(0, -100_000), (20.0055, -1000), (40.0055, 90_000)])
        let npv = -100_000 - 1000 * pow(1 + rate, -20.0055) + 90_000 * pow(1 + rate, -40.0055)
        #expect(abs(npv) < 1e-6 && rate < 0 && rate > -0.01)
        // 60 years of +2.7 %.
        let slow = try MoneyWeightedReturn.xirr([(0, -1), (60, pow(1.027, 60))])
        #expect(abs(slow - 0.027) < 1e-12)
        // The root above 10^6 is refused, not answered.
        #expect(throws: MoneyWeightedReturn.Failure.self) { try MoneyWeightedReturn.xirr([(0, -1), (1, 1_020_002)]) }
    }

    @Test func aCommandWhoseResultLeavesTheRangeIsRefused() throws {
        let now = Instant(microseconds: 1_767_225_600_000_000)
        let context = EventContext(eventId: "e1", occurredAt: now, correlationId: "c", causationId: "c", source: "t", requestId: "")
        var buy = Ultracore_Holdings_V1_OpenPositionRequest()
        (buy.clientId, buy.ticker, buy.quantity, buy.price) = ("c1", "AAA", "1000000000000000", "0.0000000001")
        let opened = try OpenPositionCommand(buy, now: now).decide(existing: nil, newPositionId: "p1", context: context)
        let position = try PositionState.next(nil, opened)
        let valued = try Valuation.decide(position, price: ExactDecimal("1000000000000000")!, pricedAt: now, context: context)
        #expect(throws: DomainError.self) { try PositionState.next(position, valued) }
        buy.quantity = "1"
        let more = try OpenPositionCommand(buy, now: now).decide(existing: position, newPositionId: "p2", context: context)
        #expect(throws: DomainError.self) { try PositionState.next(position, more) }
    }
}
