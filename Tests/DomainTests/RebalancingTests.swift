import Domain
import HoldingsProto
import Testing

@Suite struct RebalancingTests {
    static let day: Int64 = 86_400_000_000

    static func at(_ year: Int, _ month: Int, _ dayOfMonth: Int, hour: Int64 = 0) -> Instant {
        // Days from civil, the inverse the cadence uses, checked against known dates below.
        var days: Int64 = 0
        for y in 1970..<year { days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365 }
        let lengths = [31, (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        for m in 0..<(month - 1) { days += Int64(lengths[m]) }
        days += Int64(dayOfMonth - 1)
        return Instant(microseconds: days * day + hour * 3_600_000_000)
    }

    @Test func cadenceBoundariesAreStrictlyAfterAndOnUTCMidnights() {
        #expect(RebalancingCadence.daily.boundary(after: Self.at(2026, 11, 25, hour: 13)) == Self.at(2026, 11, 26))
        #expect(RebalancingCadence.daily.boundary(after: Self.at(2026, 11, 25)) == Self.at(2026, 11, 26))
        // 2026-11-25 is a Wednesday; 2026-11-30 a Monday; from a Monday midnight the next Monday.
        #expect(RebalancingCadence.weekly.boundary(after: Self.at(2026, 11, 25, hour: 9)) == Self.at(2026, 11, 30))
        #expect(RebalancingCadence.weekly.boundary(after: Self.at(2026, 11, 30)) == Self.at(2026, 12, 7))
        #expect(RebalancingCadence.monthly.boundary(after: Self.at(2026, 12, 31, hour: 23)) == Self.at(2027, 1, 1))
        #expect(RebalancingCadence.monthly.boundary(after: Self.at(2028, 2, 1)) == Self.at(2028, 3, 1))
        #expect(RebalancingCadence.quarterly.boundary(after: Self.at(2026, 11, 25)) == Self.at(2027, 1, 1))
        #expect(RebalancingCadence.quarterly.boundary(after: Self.at(2026, 4, 1)) == Self.at(2026, 7, 1))
        #expect(RebalancingCadence.quarterly.boundary(after: Self.at(2026, 3, 31, hour: 23)) == Self.at(2026, 4, 1))
    }

    @Test func bandsAbsoluteRelativeAndZeroTargets() {
        let band = DriftBand(absolute: ExactDecimal("0.05"), relative: ExactDecimal("0.25"))
        #expect(!band.isOutside(drift: ExactDecimal("0.05")!, target: ExactDecimal("0.5")!))
        #expect(band.isOutside(drift: ExactDecimal("-0.051")!, target: ExactDecimal("0.5")!))
        #expect(band.isOutside(drift: ExactDecimal("0.03")!, target: ExactDecimal("0.1")!))  // 30 % relative
        #expect(DriftBand(relative: ExactDecimal("0.5")).isOutside(drift: ExactDecimal("0.001")!, target: .zero))
        #expect(!DriftBand(relative: ExactDecimal("0.5")).isOutside(drift: .zero, target: .zero))
    }

    static func position(_ ticker: String, lots: [(quantity: Int, unitCost: Int, daysAgo: Int64)], now: Instant) -> PositionState {
        let states = lots.enumerated().map { index, lot in
            LotState(lotId: "L\(index + 1)", sequence: index + 1, acquiredAt: Instant(microseconds: now.microseconds - lot.daysAgo * day),
                     quantity: ExactDecimal(lot.quantity), originalQuantity: ExactDecimal(lot.quantity),
                     costBasis: ExactDecimal(lot.quantity * lot.unitCost), fees: .zero, sourceEventId: "e\(index)")
        }
        return PositionState(positionId: "pos-\(ticker)", clientId: "c", ticker: ticker, status: .open, lots: states, realizedGain: .zero,
                             lastPrice: nil, lastPricedAt: nil, openedAt: states[0].acquiredAt, closedAt: nil, version: Int64(states.count),
                             updatedAt: now, nextLot: states.count + 1)
    }

    /// Random portfolios and targets: the plan never spends more cash than its sells bring,
    /// never sells more than is held, rounds to whole shares, takes every loss lot before a
    /// gain lot and short-term gains last, and its costs add up.
    @Test(arguments: [1, 2, 3, 4, 5, 6] as [UInt64])
    func plansKeepTheirPromises(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        let now = Self.at(2026, 11, 25, hour: 12)
        for _ in 0..<20 {
            var assets: [PortfolioAsset] = []
            var targets: [String: ExactDecimal] = [:]
            let count = Int.random(in: 2...8, using: &random)
            var remaining = 1000
            for index in 0..<count {
                let ticker = "T\(index)"
                let lots = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                    (quantity: Int.random(in: 1...50, using: &random), unitCost: Int.random(in: 5...200, using: &random),
                     daysAgo: Int64.random(in: 1...900, using: &random))
                }
                let held = Int.random(in: 0...3, using: &random) > 0
                assets.append(PortfolioAsset(ticker: ticker, position: held ? Self.position(ticker, lots: lots, now: now) : nil,
                                             price: ExactDecimal(Int.random(in: 5...200, using: &random))))
                let weight = index == count - 1 ? Int.random(in: 0...remaining, using: &random) : Int.random(in: 0...(remaining / 2), using: &random)
                remaining -= weight
                targets[ticker] = try ExactDecimal(weight).divided(by: ExactDecimal(1000), scale: 3)
            }
            guard assets.contains(where: { $0.position != nil }) else { continue }
            var constraints = TradingConstraints()
            constraints.commissionPerTrade = ExactDecimal("0.5")!
            constraints.commissionBps = ExactDecimal(Int.random(in: 0...20, using: &random))
            constraints.spreadBps = ExactDecimal(Int.random(in: 0...20, using: &random))
            constraints.cashBuffer = try ExactDecimal(Int.random(in: 0...10, using: &random)).divided(by: ExactDecimal(100), scale: 2)
            let plan = try RebalancingPlanner.plan(assets, targets: targets, trading: Set(assets.map(\.ticker)), constraints: constraints, at: now)
            #expect(!plan.projectedCash.isNegative)
            var cash = ExactDecimal.zero
            for trade in plan.trades {
                #expect(trade.quantity.isPositive)
                #expect(trade.cost == (try trade.commission.adding(trade.spread)))
                let asset = assets.first { $0.ticker == trade.ticker }!
                switch trade.side {
                case .sell:
                    let position = try #require(asset.position)
                    #expect(trade.quantity <= position.quantity)
                    #expect(trade.quantity == trade.quantity.roundedDown(scale: 0) || trade.quantity == position.quantity)
                    cash = try cash.adding(trade.value.subtracting(trade.cost))
                    let sale = try #require(trade.sale)
                    #expect(try sale.realized.reduce(ExactDecimal.zero) { try $0.adding($1.quantity) } == trade.quantity)
                    // Tax-aware order: no gain before a loss, no short-term gain before a long-term gain.
                    let kinds = sale.realized.map { part -> Int in
                        let lot = position.lots.first { $0.lotId == part.lotId }!
                        if lot.unitCost > trade.price { return 0 }
                        return HoldingPeriod.term(acquired: lot.acquiredAt, at: now) == .long ? 1 : 2
                    }
                    #expect(kinds == kinds.sorted())
                case .buy:
                    #expect(trade.quantity == trade.quantity.roundedDown(scale: 0))
                    cash = try cash.subtracting(trade.value.adding(trade.cost))
                }
            }
            #expect(cash == plan.projectedCash)
        }
    }

    /// A run's trades applied to a position equal the plan; a void trade only takes the version.
    @Test func tradeEventsApplyThroughTheLotEngineAndVoidOnesOnlyTakeTheVersion() throws {
        let now = Self.at(2026, 11, 25, hour: 12)
        let position = Self.position("AAA", lots: [(10, 100, 700), (10, 150, 100), (10, 120, 50)], now: now)
        var constraints = TradingConstraints()
        constraints.commissionPerTrade = ExactDecimal(1)
        let trade = try RebalancingPlanner.sell(position, quantity: ExactDecimal(12), price: ExactDecimal(130), at: now, constraints: constraints)
        #expect(trade.selections.map(\.lotId) == ["L2", "L1"])  // the loss, then the long-term gain before the short-term L3
        let context = EventContext(eventId: "e-run", occurredAt: now, correlationId: "r", causationId: "r", source: "test", requestId: "")
        var event = try RebalancingEvents.trade(trade, position: position, newPositionId: "new", clientId: "c",
                                                rebalancingId: "reb-1", planId: "plan-1", context: context, at: now)
        var applied = position
        try applied.apply(event)
        #expect(applied.quantity == ExactDecimal(18))
        #expect(applied.version == position.version + 1)
        event.attributes[RebalancingEvents.voidAttribute] = "true"
        var voided = position
        try voided.apply(event)
        #expect(voided.lots == position.lots && voided.version == position.version + 1)
    }
}

@Suite struct AnalyticsTests {
    @Test func xirrOfASimpleYearAndNoRoot() throws {
        #expect(abs(try MoneyWeightedReturn.xirr([(0, -1000), (1, 1100)]) - 0.1) < 1e-12)
        #expect(abs(try MoneyWeightedReturn.xirr([(0, -1000), (0.5, -1000), (1, 2300)]) - 0.2 ) < 0.05)
        #expect(throws: MoneyWeightedReturn.Failure.self) { try MoneyWeightedReturn.xirr([(0, -1000), (1, -5)]) }
        #expect(throws: MoneyWeightedReturn.Failure.self) { try MoneyWeightedReturn.xirr([(0, -100), (1.0 / 365, 301)]) }
    }

    @Test func drawdownAndUndefinedStatistics() {
        let drawdown = ReturnStatistics.drawdown([0.2, -0.25, -1.0 / 3, 130.0 / 60 - 1, 125.0 / 130 - 1])
        #expect(abs(drawdown.maxDrawdown + 0.5) < 1e-12)
        #expect((drawdown.peak, drawdown.trough, drawdown.recovery, drawdown.duration) == (1, 3, 4, 3))
        #expect(ReturnStatistics.sharpe([0.01, 0.01, 0.01], riskFree: 0, periodsPerYear: 252).undefined == "zero volatility")
        #expect(ReturnStatistics.sharpe([0.01], riskFree: 0, periodsPerYear: 252).value.isNaN)
        #expect(ReturnStatistics.sortino([0.01, 0.02], required: 0, periodsPerYear: 252).value.isNaN)
    }
}
