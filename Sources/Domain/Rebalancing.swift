import HoldingsProto

/// Tolerance around a target weight: outside when |drift| exceeds the absolute band, or
/// |drift| ÷ target exceeds the relative band (an asset with target 0 that is still held is
/// outside any relative band).
public struct DriftBand: Sendable, Hashable {
    public var absolute: ExactDecimal?
    public var relative: ExactDecimal?

    public init(absolute: ExactDecimal? = nil, relative: ExactDecimal? = nil) {
        self.absolute = absolute
        self.relative = relative
    }

    public init(_ band: Ultracore_Holdings_V1_DriftBand?, field: String) throws(DomainError) {
        guard let band else { return }
        if !band.absolute.isEmpty {
            absolute = try Validation.nonNegative(band.absolute, field: field + ".absolute")
            guard absolute! <= ExactDecimal(1) else { throw .invalidArgument(field: field + ".absolute", reason: "must be at most 1") }
        }
        if !band.relative.isEmpty { relative = try Validation.nonNegative(band.relative, field: field + ".relative") }
    }

    public var isEmpty: Bool { absolute == nil && relative == nil }

    public func isOutside(drift: ExactDecimal, target: ExactDecimal) -> Bool {
        let size = drift.magnitude
        if let absolute, size > absolute { return true }
        if let relative {
            if target.isZero { return size.isPositive }
            if let ratio = try? size.divided(by: target), ratio > relative { return true }
        }
        return false
    }

    public var proto: Ultracore_Holdings_V1_DriftBand {
        var band = Ultracore_Holdings_V1_DriftBand()
        band.absolute = absolute?.description ?? ""
        band.relative = relative?.description ?? ""
        return band
    }
}

/// Calendar cadences; boundaries are at 00:00 UTC.
public enum RebalancingCadence: Sendable, Hashable {
    case daily, weekly, monthly, quarterly

    public init(_ cadence: Ultracore_Holdings_V1_Cadence, field: String) throws(DomainError) {
        switch cadence {
        case .daily: self = .daily
        case .weekly: self = .weekly
        case .monthly: self = .monthly
        case .quarterly: self = .quarterly
        default: throw .invalidArgument(field: field, reason: "must be DAILY, WEEKLY, MONTHLY or QUARTERLY")
        }
    }

    public var proto: Ultracore_Holdings_V1_Cadence {
        switch self {
        case .daily: .daily
        case .weekly: .weekly
        case .monthly: .monthly
        case .quarterly: .quarterly
        }
    }

    static let day: Int64 = 86_400_000_000

    /// The first boundary strictly after `instant`: the next midnight (DAILY), Monday
    /// (WEEKLY), first of a month (MONTHLY) or of January/April/July/October (QUARTERLY).
    public func boundary(after instant: Instant) -> Instant {
        var days = instant.microseconds / Self.day
        if instant.microseconds % Self.day < 0 { days -= 1 }
        switch self {
        case .daily:
            return Instant(microseconds: (days + 1) * Self.day)
        case .weekly:
            // 1970-01-01 was a Thursday: Monday is day 4 (mod 7).
            let weekday = ((days - 4) % 7 + 7) % 7
            return Instant(microseconds: (days + 7 - weekday) * Self.day)
        case .monthly, .quarterly:
            var (year, month, _) = HoldingPeriod.civil(instant)
            repeat {
                month += 1
                if month > 12 { month = 1; year += 1 }
            } while self == .quarterly && (month - 1) % 3 != 0
            return Instant(microseconds: Self.daysFromCivil(year, month, 1) * Self.day)
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Target weight per ticker, fractions of 1 summing to at most 1 (the rest is cash).
public enum TargetWeights {
    public static func parse(_ map: [String: String], field: String, required: Bool = true) throws(DomainError) -> [String: ExactDecimal] {
        if required && map.isEmpty { throw .invalidArgument(field: field, reason: "is required (ticker → weight)") }
        guard map.count <= 10_000 else { throw .invalidArgument(field: field, reason: "holds \(map.count) tickers; at most 10,000") }
        var weights: [String: ExactDecimal] = [:]
        var total = ExactDecimal.zero
        for (ticker, text) in map.sorted(by: { $0.key < $1.key }) {
            guard (try? Validation.ticker(ticker)) != nil else {
                throw .invalidArgument(field: "\(field)[\(ticker.prefix(20))]", reason: "is not a ticker (1–12 characters of A–Z, 0–9, '.', '-')")
            }
            let weight = try Validation.nonNegative(text, field: "\(field)[\(ticker)]")
            guard weight <= ExactDecimal(1) else { throw .invalidArgument(field: "\(field)[\(ticker)]", reason: "must be at most 1") }
            total = try LotEngine.add(total, weight)
            weights[ticker] = weight
        }
        guard total <= ExactDecimal(1) else { throw .invalidArgument(field: field, reason: "add up to \(total), more than 1") }
        return weights
    }
}

/// One holding of the portfolio being rebalanced, valued at a known price.
public struct PortfolioAsset: Sendable {
    public var ticker: String
    /// The client's open position in the ticker; nil when not held.
    public var position: PositionState?
    public var price: ExactDecimal
    public var quantity: ExactDecimal { position?.quantity ?? .zero }

    public init(ticker: String, position: PositionState?, price: ExactDecimal) {
        self.ticker = ticker
        self.position = position
        self.price = price
    }

    public var marketValue: ExactDecimal { (try? quantity.multiplied(by: price, scale: 18)) ?? .zero }
}

/// How far one asset is from its target.
public struct AssetDrift: Sendable, Hashable {
    public var ticker: String
    public var target: ExactDecimal
    public var current: ExactDecimal
    public var marketValue: ExactDecimal
    public var outside: Bool

    public init(ticker: String, target: ExactDecimal, current: ExactDecimal, marketValue: ExactDecimal, outside: Bool) {
        (self.ticker, self.target, self.current, self.marketValue, self.outside) = (ticker, target, current, marketValue, outside)
    }

    public var drift: ExactDecimal { (try? current.subtracting(target)) ?? .zero }
    public var relative: ExactDecimal? { target.isZero ? nil : try? drift.divided(by: target) }

    public var proto: Ultracore_Holdings_V1_AssetDrift {
        var proto = Ultracore_Holdings_V1_AssetDrift()
        proto.ticker = ticker
        proto.targetWeight = target.description
        proto.currentWeight = current.description
        proto.drift = drift.description
        proto.relativeDrift = relative?.description ?? ""
        proto.outsideBand = outside
        proto.marketValue = marketValue.description
        return proto
    }
}

public enum Rebalancing {
    /// Weights (10 places) and drifts of every target and held ticker, ordered by ticker, and
    /// the portfolio value; `bands` per ticker, `band` for the others.
    public static func drifts(_ assets: [PortfolioAsset], targets: [String: ExactDecimal], band: DriftBand,
                              bands: [String: DriftBand]) throws(DomainError) -> (value: ExactDecimal, drifts: [AssetDrift]) {
        let value = try LotEngine.sum(assets.map(\.marketValue))
        var drifts: [AssetDrift] = []
        var seen = Set<String>()
        for asset in assets.sorted(by: { $0.ticker < $1.ticker }) where seen.insert(asset.ticker).inserted {
            let target = targets[asset.ticker] ?? .zero
            let current = value.isZero ? ExactDecimal.zero : try LotEngine.divide(asset.marketValue, value)
            var drift = AssetDrift(ticker: asset.ticker, target: target, current: current, marketValue: asset.marketValue, outside: false)
            drift.outside = (bands[asset.ticker] ?? band).isOutside(drift: drift.drift, target: target)
            drifts.append(drift)
        }
        return (value, drifts)
    }

    /// Momentum tilt: m = last price ÷ first price − 1 over each target's recent prices;
    /// tilt = maxTilt × (m − mean m) ÷ max |m − mean m|; tilted weights are floored at 0 and
    /// rescaled to the original total. Tickers without 2 prices keep their weight untilted.
    public static func momentumTilt(_ targets: [String: ExactDecimal], prices: [String: [ExactDecimal]],
                                    maxTilt: ExactDecimal) throws(DomainError) -> (targets: [String: ExactDecimal], reasons: [String]) {
        var momentum: [String: ExactDecimal] = [:]
        for (ticker, series) in prices where targets[ticker] != nil && series.count >= 2 && series[0].isPositive {
            momentum[ticker] = try LotEngine.subtract(try LotEngine.divide(series[series.count - 1], series[0]), ExactDecimal(1))
        }
        guard momentum.count >= 2 else {
            return (targets, ["momentum needs recent prices of at least 2 target tickers (\(momentum.count) have them): targets untilted"])
        }
        let mean = try LotEngine.divide(try LotEngine.sum(Array(momentum.values)), ExactDecimal(momentum.count))
        var spread = ExactDecimal.zero
        for value in momentum.values {
            let size = try LotEngine.subtract(value, mean).magnitude
            if size > spread { spread = size }
        }
        guard spread.isPositive else { return (targets, ["momentum is the same for every target: targets untilted"]) }
        var tilted: [String: ExactDecimal] = [:]
        for (ticker, weight) in targets {
            guard let value = momentum[ticker] else { tilted[ticker] = weight; continue }
            let tilt = try LotEngine.multiply(maxTilt, try LotEngine.divide(try LotEngine.subtract(value, mean), spread))
            let raw = try LotEngine.add(weight, tilt)
            tilted[ticker] = raw.isNegative ? .zero : raw
        }
        let original = try LotEngine.sum(Array(targets.values)), now = try LotEngine.sum(Array(tilted.values))
        if now.isPositive {
            for (ticker, weight) in tilted {
                tilted[ticker] = (try? weight.multiplied(by: original).divided(by: now)) ?? weight
            }
        }
        var reasons: [String] = []
        for ticker in momentum.keys.sorted() {
            reasons.append("\(ticker): momentum \(momentum[ticker]!) over \(prices[ticker]!.count) prices, target \(targets[ticker]!) → \(tilted[ticker]!)")
        }
        return (tilted, reasons)
    }
}

/// Trading constraints and the cost model of a plan (PlanConstraints).
public struct TradingConstraints: Sendable {
    public var minTradeValue: ExactDecimal = .zero
    public var cashBuffer: ExactDecimal = .zero
    public var fractional = false
    public var commissionPerTrade: ExactDecimal = .zero
    public var commissionBps: ExactDecimal = .zero
    public var spreadBps: ExactDecimal = .zero
    public var shortTermRate = ExactDecimal("0.37")!
    public var longTermRate = ExactDecimal("0.20")!

    /// Fractional quantities are rounded down to this many places.
    public static let fractionalScale = 6
    /// Costs and tax impacts are rounded half-even to this many places.
    public static let moneyScale = 4

    public init() {}

    public init(_ proto: Ultracore_Holdings_V1_PlanConstraints?, field: String) throws(DomainError) {
        guard let proto else { return }
        func amount(_ text: String, _ name: String) throws(DomainError) -> ExactDecimal? {
            text.isEmpty ? nil : try Validation.nonNegative(text, field: "\(field).\(name)")
        }
        func fraction(_ text: String, _ name: String) throws(DomainError) -> ExactDecimal? {
            guard let value = try amount(text, name) else { return nil }
            guard value <= ExactDecimal(1) else { throw .invalidArgument(field: "\(field).\(name)", reason: "must be a fraction of 1") }
            return value
        }
        minTradeValue = try amount(proto.minTradeValue, "min_trade_value") ?? .zero
        cashBuffer = try fraction(proto.cashBuffer, "cash_buffer") ?? .zero
        guard cashBuffer < ExactDecimal(1) else { throw .invalidArgument(field: "\(field).cash_buffer", reason: "must be less than 1") }
        fractional = proto.allowFractionalShares
        commissionPerTrade = try amount(proto.commissionPerTrade, "commission_per_trade") ?? .zero
        commissionBps = try amount(proto.commissionBps, "commission_bps") ?? .zero
        spreadBps = try amount(proto.spreadBps, "spread_bps") ?? .zero
        guard commissionBps <= ExactDecimal(10_000), spreadBps <= ExactDecimal(10_000) else {
            throw .invalidArgument(field: "\(field).commission_bps", reason: "and spread_bps must be at most 10,000")
        }
        shortTermRate = try fraction(proto.shortTermTaxRate, "short_term_tax_rate") ?? shortTermRate
        longTermRate = try fraction(proto.longTermTaxRate, "long_term_tax_rate") ?? longTermRate
    }

    func round(_ quantity: ExactDecimal) -> ExactDecimal {
        quantity.roundedDown(scale: fractional ? Self.fractionalScale : 0)
    }

    /// (commission, spread cost) of a trade of `value`.
    func costs(of value: ExactDecimal) throws(DomainError) -> (commission: ExactDecimal, spread: ExactDecimal) {
        let tenThousand = ExactDecimal(10_000)
        do {
            let commission = try commissionPerTrade.adding(value.multiplied(by: commissionBps.divided(by: tenThousand, scale: 8), scale: Self.moneyScale))
            let spread = try value.multiplied(by: spreadBps.divided(by: tenThousand, scale: 8), scale: Self.moneyScale)
            return (commission, spread)
        } catch {
            throw .invalidArgument(field: "constraints", reason: "trade costs are out of range")
        }
    }

    func tax(on gain: ExactDecimal, _ term: HoldingPeriod) throws(DomainError) -> ExactDecimal {
        do { return try gain.multiplied(by: term == .long ? longTermRate : shortTermRate, scale: Self.moneyScale) } catch {
            throw .invalidArgument(field: "constraints", reason: "tax impact is out of range")
        }
    }
}

/// One trade of a plan.
public struct PlannedTrade: Sendable {
    public enum Side: Sendable { case buy, sell }
    public var ticker: String
    public var side: Side
    public var quantity: ExactDecimal
    public var price: ExactDecimal
    public var value: ExactDecimal
    public var commission: ExactDecimal
    public var spread: ExactDecimal
    public var cost: ExactDecimal { (try? commission.adding(spread)) ?? commission }
    /// Sells: the lots chosen, and the sale they give (fees = the trade's cost).
    public var selections: [(lotId: String, quantity: ExactDecimal)] = []
    public var sale: Sale?
    public var taxImpact: ExactDecimal = .zero

    public func proto(shortRate: ExactDecimal, longRate: ExactDecimal) -> Ultracore_Holdings_V1_PlannedTrade {
        var trade = Ultracore_Holdings_V1_PlannedTrade()
        trade.ticker = ticker
        trade.side = side == .buy ? .buy : .sell
        trade.quantity = quantity.description
        trade.estimatedPrice = price.description
        trade.estimatedValue = value.description
        trade.commission = commission.description
        trade.spreadCost = spread.description
        trade.estimatedCost = cost.description
        if side == .sell, let sale {
            trade.lots = selections.map {
                var selection = Ultracore_Holdings_V1_LotSelection()
                selection.lotId = $0.lotId
                selection.quantity = $0.quantity.description
                return selection
            }
            trade.realizedGains = Gains.summary(realized: sale.realized.map(\.proto))
            trade.taxImpact = taxImpact.description
        }
        return trade
    }
}

/// A plan: its trades (sells, then buys), and the portfolio they lead to.
public struct RebalancingPlan: Sendable {
    public var trades: [PlannedTrade]
    public var totalCost: ExactDecimal
    public var totalTaxImpact: ExactDecimal
    public var projectedWeights: [String: ExactDecimal]
    public var projectedCash: ExactDecimal
    public var portfolioValue: ExactDecimal
}

public enum RebalancingPlanner {
    /// Lots in tax-aware order for a sale at `price`: losses first (largest tax benefit per
    /// share first), then long-term gains, short-term gains last (each smallest gain per share
    /// first); ties by acquisition order.
    public static func taxAwareOrder(_ lots: [LotState], price: ExactDecimal, at: Instant,
                                     constraints: TradingConstraints) throws(DomainError) -> [LotState] {
        try taxAwareIndexes(lots, price: price, at: at, constraints: constraints).map { lots[$0] }
    }

    /// The indexes of `lots` in ``taxAwareOrder(_:price:at:constraints:)``'s order (a sale
    /// reads only the lots it takes).
    static func taxAwareIndexes(_ lots: [LotState], price: ExactDecimal, at: Instant,
                                constraints: TradingConstraints) throws(DomainError) -> [Int] {
        // Sorted as small keys with the lot's index (moving whole lots in the sort retained and
        // released every string of each lot at each swap: most of a 25,000-lot plan's time).
        var keyed: [(group: Int, key: ExactDecimal, index: Int)] = []
        keyed.reserveCapacity(lots.count)
        for (index, lot) in lots.enumerated() {
            let gainPerShare = try LotEngine.subtract(price, lot.unitCost)
            let term = HoldingPeriod.term(acquired: lot.holdingStart, at: at)
            if gainPerShare.isNegative {
                keyed.append((0, try constraints.tax(on: gainPerShare, term), index))
            } else {
                keyed.append((term == .long ? 1 : 2, gainPerShare, index))
            }
        }
        keyed.sort { a, b in
            if a.group != b.group { return a.group < b.group }
            if a.key != b.key { return a.key < b.key }
            return (lots[a.index].acquiredAt, lots[a.index].sequence) < (lots[b.index].acquiredAt, lots[b.index].sequence)
        }
        return keyed.map(\.index)
    }

    /// A sell of `quantity` shares of `position` at `price`: tax-aware lots, costs as fees.
    public static func sell(_ position: PositionState, quantity: ExactDecimal, price: ExactDecimal, at: Instant,
                            constraints: TradingConstraints) throws(DomainError) -> PlannedTrade {
        let value = try LotEngine.multiply(quantity, price)
        let (commission, spread) = try constraints.costs(of: value)
        var remaining = quantity
        var selections: [(lotId: String, quantity: ExactDecimal)] = []
        let lots = position.lots
        for index in try taxAwareIndexes(lots, price: price, at: at, constraints: constraints) {
            guard remaining.isPositive else { break }
            let take = min(lots[index].quantity, remaining)
            selections.append((lots[index].lotId, take))
            remaining = try LotEngine.subtract(remaining, take)
        }
        var trade = PlannedTrade(ticker: position.ticker, side: .sell, quantity: quantity, price: price, value: value,
                                 commission: commission, spread: spread)
        let sale = try LotEngine.sell(position.lots, quantity: quantity, price: price, fees: trade.cost,
                                      method: .specific(selections), at: at)
        trade.selections = selections
        trade.sale = sale
        trade.taxImpact = try LotEngine.sum(sale.realized.map { part throws(DomainError) in try constraints.tax(on: part.realizedGain, part.term) })
        return trade
    }

    /// The trades that move the `trading` tickers toward their targets. Targets apply to the
    /// portfolio value less the cash buffer. The service keeps no cash balance: buys are paid
    /// by the plan's sells (largest shortfall first, scaled down to what is left after
    /// costs), and the projected cash is what the sells bring in less what the buys cost.
    public static func plan(_ assets: [PortfolioAsset], targets: [String: ExactDecimal], trading: Set<String>,
                            constraints: TradingConstraints, at: Instant) throws(DomainError) -> RebalancingPlan {
        let value = try LotEngine.sum(assets.map(\.marketValue))
        guard value.isPositive else { throw .failedPrecondition("the portfolio has no market value to rebalance") }
        let investable = try LotEngine.multiply(value, try LotEngine.subtract(ExactDecimal(1), constraints.cashBuffer))
        var sells: [PlannedTrade] = [], wants: [(asset: PortfolioAsset, shortfall: ExactDecimal)] = []
        for asset in assets.sorted(by: { $0.ticker < $1.ticker }) where trading.contains(asset.ticker) {
            let target = targets[asset.ticker] ?? .zero
            let targetValue = try LotEngine.multiply(target, investable)
            let gap = try LotEngine.subtract(targetValue, asset.marketValue)
            if gap.isNegative, let position = asset.position {
                let excess = try LotEngine.subtract(.zero, gap)
                var quantity = target.isZero ? position.quantity : constraints.round(try LotEngine.divide(excess, asset.price))
                quantity = min(quantity, position.quantity)
                guard quantity.isPositive else { continue }
                guard try LotEngine.multiply(quantity, asset.price) >= constraints.minTradeValue else { continue }
                sells.append(try sell(position, quantity: quantity, price: asset.price, at: at, constraints: constraints))
            } else if gap.isPositive {
                wants.append((asset, gap))
            }
        }
        var cash = ExactDecimal.zero
        for trade in sells { cash = try LotEngine.add(cash, try LotEngine.subtract(trade.value, trade.cost)) }
        var buys: [PlannedTrade] = []
        let rate = try LotEngine.divide(try LotEngine.add(constraints.commissionBps, constraints.spreadBps), ExactDecimal(10_000))
        let step = constraints.fractional ? ExactDecimal("0.000001")! : ExactDecimal(1)
        for (asset, shortfall) in wants.sorted(by: { $0.shortfall != $1.shortfall ? $0.shortfall > $1.shortfall : $0.asset.ticker < $1.asset.ticker }) {
            let budget = try LotEngine.subtract(cash, constraints.commissionPerTrade)
            guard budget.isPositive else { break }
            let perShare = try LotEngine.multiply(asset.price, try LotEngine.add(ExactDecimal(1), rate))
            var quantity = min(constraints.round(try LotEngine.divide(shortfall, asset.price)),
                               constraints.round(try LotEngine.divide(budget, perShare)))
            while quantity.isPositive {
                let tradeValue = try LotEngine.multiply(quantity, asset.price)
                let (commission, spread) = try constraints.costs(of: tradeValue)
                let trade = PlannedTrade(ticker: asset.ticker, side: .buy, quantity: quantity, price: asset.price, value: tradeValue,
                                         commission: commission, spread: spread)
                let after = try LotEngine.subtract(cash, try LotEngine.add(tradeValue, trade.cost))
                if after.isNegative {  // rounding of the costs: one step less
                    quantity = try LotEngine.subtract(quantity, step)
                    continue
                }
                if tradeValue >= constraints.minTradeValue {
                    buys.append(trade)
                    cash = after
                }
                break
            }
        }
        let trades = sells + buys.sorted { $0.ticker < $1.ticker }
        var quantities: [String: ExactDecimal] = [:], prices: [String: ExactDecimal] = [:]
        for asset in assets { quantities[asset.ticker] = asset.quantity; prices[asset.ticker] = asset.price }
        for trade in trades {
            let held = quantities[trade.ticker] ?? .zero
            quantities[trade.ticker] = trade.side == .buy ? try LotEngine.add(held, trade.quantity) : try LotEngine.subtract(held, trade.quantity)
        }
        var values: [String: ExactDecimal] = [:]
        for (ticker, quantity) in quantities { values[ticker] = try LotEngine.multiply(quantity, prices[ticker] ?? .zero) }
        let total = try LotEngine.add(try LotEngine.sum(Array(values.values)), cash)
        var weights: [String: ExactDecimal] = [:]
        for (ticker, tickerValue) in values where tickerValue.isPositive || targets[ticker] != nil {
            weights[ticker] = total.isPositive ? try LotEngine.divide(tickerValue, total) : .zero
        }
        return RebalancingPlan(
            trades: trades, totalCost: try LotEngine.sum(trades.map(\.cost)), totalTaxImpact: try LotEngine.sum(trades.map(\.taxImpact)),
            projectedWeights: weights, projectedCash: cash, portfolioValue: value)
    }
}

/// The events of a rebalancing run (see TradeExecuted in events.proto for the all-or-nothing rule).
public enum RebalancingEvents {
    /// Event attribute naming the run a TRADE_EXECUTED belongs to.
    public static let runAttribute = "rebalancing-id"
    /// Event attribute set (in memory, never on the log) on a trade of a run that did not complete.
    public static let voidAttribute = "void"

    public static func isVoid(_ event: Ultracore_Holdings_V1_Event) -> Bool {
        event.eventType == .tradeExecuted && event.attributes[voidAttribute] == "true"
    }

    /// The TRADE_EXECUTED of one planned trade: a sell from `position` (the plan's lots,
    /// sold again by the lot engine at `at`), or a buy into `position` (a new position
    /// `newPositionId` when nil). The trade's cost is the sale's fees or the lot's fees.
    public static func trade(_ trade: PlannedTrade, position: PositionState?, newPositionId: String, clientId: String,
                             rebalancingId: String, planId: String, context: EventContext, at: Instant) throws(DomainError) -> Ultracore_Holdings_V1_Event {
        var payload = Ultracore_Holdings_V1_TradeExecuted()
        payload.rebalancingId = rebalancingId
        payload.planId = planId
        payload.clientId = clientId
        payload.ticker = trade.ticker
        payload.quantity = trade.quantity.description
        payload.price = trade.price.description
        payload.cost = trade.cost.description
        let positionId: String, version: Int64
        switch trade.side {
        case .sell:
            guard let position, position.status == .open else {
                throw .failedPrecondition("client \(clientId) holds no open \(trade.ticker) position to sell")
            }
            let sale = try LotEngine.sell(position.lots, quantity: trade.quantity, price: trade.price, fees: trade.cost,
                                          method: .specific(trade.selections), at: at)
            payload.side = .sell
            payload.realized = sale.realized.map(\.proto)
            (positionId, version) = (position.positionId, position.version + 1)
        case .buy:
            let basis = try LotEngine.add(try LotEngine.multiply(trade.quantity, trade.price), trade.cost)
            var lot = Ultracore_Holdings_V1_Lot()
            lot.lotId = position.map { "L\($0.nextLot)" } ?? "L1"
            lot.acquiredAt = at.timestamp
            lot.quantity = trade.quantity.description
            lot.originalQuantity = trade.quantity.description
            lot.costBasis = basis.description
            lot.unitCost = ((try? basis.divided(by: trade.quantity)) ?? .zero).description
            lot.fees = trade.cost.description
            lot.sourceEventId = context.eventId
            payload.side = .buy
            payload.lot = lot
            (positionId, version) = (position?.positionId ?? newPositionId, (position?.version ?? 0) + 1)
        }
        payload.positionId = positionId
        var event = context.envelope(aggregateId: positionId, version: version, clientId: clientId)
        event.eventType = .tradeExecuted
        event.payload = .tradeExecuted(payload)
        event.attributes[runAttribute] = rebalancingId
        return event
    }
}

extension RebalancingEvents {
    /// The rebalancing run an event belongs to; empty for other events.
    public static func runId(of event: Ultracore_Holdings_V1_Event) -> String {
        switch event.payload {
        case .tradeExecuted(let trade)?: trade.rebalancingId
        case .rebalancingTriggered(let triggered)?: triggered.rebalancingId
        case .rebalancingCompleted(let completed)?: completed.rebalancingId
        case .rebalancingAborted(let aborted)?: aborted.rebalancingId
        default: ""
        }
    }

    /// Whether the event changes a position (applied to the position aggregate).
    public static func isPositionEvent(_ event: Ultracore_Holdings_V1_Event) -> Bool {
        switch event.payload {
        case .positionOpened?, .lotAdded?, .lotsSold?, .positionClosed?, .positionValued?, .corporateActionApplied?, .tradeExecuted?: true
        default: false
        }
    }
}
