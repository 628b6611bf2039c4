/// How a sale picks its lots (the contract's CostBasisMethod, SPECIFIC_ID with its selections).
public enum LotSelectionMethod: Sendable, Hashable {
    /// Oldest acquisition first; ties by lot order.
    case fifo
    /// Newest acquisition first; ties by reverse lot order.
    case lifo
    /// Highest unit cost first; ties by acquisition order, then lot order.
    case hifo
    /// Every open share carries the position's average cost; lots are depleted oldest first.
    case average
    /// The caller's (lot id, quantity) pairs, in the given order.
    case specific([(lotId: String, quantity: ExactDecimal)])

    public static func == (a: LotSelectionMethod, b: LotSelectionMethod) -> Bool {
        switch (a, b) {
        case (.fifo, .fifo), (.lifo, .lifo), (.hifo, .hifo), (.average, .average): true
        case (.specific(let x), .specific(let y)): x.map(\.lotId) == y.map(\.lotId) && x.map(\.quantity) == y.map(\.quantity)
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .fifo: hasher.combine(0)
        case .lifo: hasher.combine(1)
        case .hifo: hasher.combine(2)
        case .average: hasher.combine(3)
        case .specific(let selections):
            hasher.combine(4)
            for selection in selections {
                hasher.combine(selection.lotId)
                hasher.combine(selection.quantity)
            }
        }
    }
}

/// The gain realized on the part of one lot that a sale consumed.
public struct RealizedPart: Sendable, Hashable {
    public var lotId: String
    public var acquiredAt: Instant
    public var soldAt: Instant
    /// Shares sold from the lot.
    public var quantity: ExactDecimal
    /// Basis of those shares, currency units (exact share of the lot's basis, see LotEngine).
    public var costBasis: ExactDecimal
    /// quantity × price − this part's share of the sale fees.
    public var proceeds: ExactDecimal
    public var term: HoldingPeriod
    /// Holding period start of the lot sold from (what a wash-sale replacement carries over).
    public var holdingStart: Instant
    /// Loss disallowed as a wash sale at the time of the sale, ≥ 0.
    public var washSaleDisallowed: ExactDecimal = .zero

    public init(lotId: String, acquiredAt: Instant, soldAt: Instant, quantity: ExactDecimal, costBasis: ExactDecimal,
                proceeds: ExactDecimal, term: HoldingPeriod, holdingStart: Instant? = nil) {
        (self.lotId, self.acquiredAt, self.soldAt, self.quantity, self.costBasis, self.proceeds, self.term) =
            (lotId, acquiredAt, soldAt, quantity, costBasis, proceeds, term)
        self.holdingStart = holdingStart ?? acquiredAt
    }

    public var realizedGain: ExactDecimal { (try? proceeds.subtracting(costBasis)) ?? .zero }
    /// Basis per share sold, rounded half-even to 10 places.
    public var unitCost: ExactDecimal { (try? costBasis.divided(by: quantity)) ?? .zero }
}

/// The outcome of selling shares out of a set of lots.
public struct Sale: Sendable, Hashable {
    /// Open lots after the sale (emptied lots removed), in their original order.
    public var remaining: [LotState]
    /// Per-lot results, in the order the lots were consumed.
    public var realized: [RealizedPart]

    public var totalRealizedGain: ExactDecimal {
        realized.reduce(.zero) { (try? $0.adding($1.realizedGain)) ?? $0 }
    }
}

/// Sells shares out of lots. Exact by construction: a lot sold in part gives up
/// basis × sold ÷ held rounded half-even to 10 places and keeps the exact rest, so the
/// basis realized plus the basis remaining always equals the basis bought; sale fees are
/// split over the parts by quantity, the last part taking the remainder.
public enum LotEngine {
    public static func sell(_ lots: [LotState], quantity: ExactDecimal, price: ExactDecimal, fees: ExactDecimal,
                            method: LotSelectionMethod, at soldAt: Instant) throws(DomainError) -> Sale {
        guard quantity.isPositive else { throw .invalidArgument(field: "quantity", reason: "must be more than 0") }
        guard price.isPositive else { throw .invalidArgument(field: "price", reason: "must be more than 0") }
        guard !fees.isNegative else { throw .invalidArgument(field: "fees", reason: "must not be negative") }
        let held = try sum(lots.map(\.quantity))
        guard quantity <= held else {
            throw .failedPrecondition("cannot sell \(quantity) shares: \(held) are held")
        }
        var lots = lots
        if method == .average { lots = try averaged(lots) }

        // (lot index, quantity to take), in consumption order.
        var plan: [(Int, ExactDecimal)] = []
        switch method {
        case .specific(let selections):
            var taken: [String: ExactDecimal] = [:]
            var total = ExactDecimal.zero
            let indexById = Dictionary(lots.enumerated().map { ($1.lotId, $0) }, uniquingKeysWith: { first, _ in first })
            for selection in selections {
                guard let index = indexById[selection.lotId] else {
                    throw .invalidArgument(field: "lot_selections", reason: "names lot \(selection.lotId.prefix(64)), which is not an open lot of the position")
                }
                guard selection.quantity.isPositive else {
                    throw .invalidArgument(field: "lot_selections", reason: "quantity for lot \(selection.lotId) must be more than 0")
                }
                let already = try add(taken[selection.lotId] ?? .zero, selection.quantity)
                guard already <= lots[index].quantity else {
                    throw .invalidArgument(field: "lot_selections", reason: "asks \(already) shares of lot \(selection.lotId), which holds \(lots[index].quantity)")
                }
                taken[selection.lotId] = already
                total = try add(total, selection.quantity)
                plan.append((index, selection.quantity))
            }
            guard total == quantity else {
                throw .invalidArgument(field: "lot_selections", reason: "add up to \(total) shares, not the \(quantity) sold")
            }
        default:
            let order = consumptionOrder(lots, method)
            var left = quantity
            for index in order where left.isPositive {
                let take = min(left, lots[index].quantity)
                plan.append((index, take))
                left = try subtract(left, take)
            }
        }

        var feesLeft = fees
        var realized: [RealizedPart] = []
        for (step, (index, take)) in plan.enumerated() {
            let lot = lots[index]
            let basis: ExactDecimal
            if take == lot.quantity {
                basis = lot.costBasis
            } else {
                basis = try divide(try multiply(lot.costBasis, take), lot.quantity)
            }
            let feeShare: ExactDecimal
            if step == plan.count - 1 {
                feeShare = feesLeft
            } else {
                feeShare = try divide(try multiply(fees, take), quantity)
            }
            feesLeft = try subtract(feesLeft, feeShare)
            let proceeds = try subtract(try multiply(take, price), feeShare)
            realized.append(RealizedPart(
                lotId: lot.lotId, acquiredAt: lot.acquiredAt, soldAt: soldAt, quantity: take, costBasis: basis,
                proceeds: proceeds, term: HoldingPeriod.term(acquired: lot.holdingStart, at: soldAt), holdingStart: lot.holdingStart))
            lots[index].quantity = try subtract(lot.quantity, take)
            lots[index].costBasis = try subtract(lot.costBasis, basis)
        }
        return Sale(remaining: lots.filter { $0.quantity.isPositive }, realized: realized)
    }

    /// Lot indices in the order FIFO/LIFO/HIFO/AVERAGE consume them.
    static func consumptionOrder(_ lots: [LotState], _ method: LotSelectionMethod) -> [Int] {
        let indices = Array(lots.indices)
        switch method {
        case .fifo, .average, .specific:
            return indices.sorted { (lots[$0].acquiredAt, lots[$0].sequence) < (lots[$1].acquiredAt, lots[$1].sequence) }
        case .lifo:
            return indices.sorted { (lots[$0].acquiredAt, lots[$0].sequence) > (lots[$1].acquiredAt, lots[$1].sequence) }
        case .hifo:
            // Unit costs (basis ÷ quantity) compared exactly, whatever the size of the cross products.
            return indices.sorted { i, j in
                let a = lots[i], b = lots[j]
                let order = ExactDecimal.compareRatios(a.costBasis, a.quantity, b.costBasis, b.quantity)
                if order != 0 { return order > 0 }
                return (a.acquiredAt, a.sequence) < (b.acquiredAt, b.sequence)
            }
        }
    }

    /// Every lot re-based at the average cost of all open shares; the last lot takes the
    /// remainder so the total basis is unchanged.
    static func averaged(_ lots: [LotState]) throws(DomainError) -> [LotState] {
        let totalQuantity = try sum(lots.map(\.quantity))
        let totalBasis = try sum(lots.map(\.costBasis))
        var result = lots
        var left = totalBasis
        for index in result.indices {
            if index == result.count - 1 {
                result[index].costBasis = left
            } else {
                let basis = try divide(try multiply(totalBasis, result[index].quantity), totalQuantity)
                result[index].costBasis = basis
                left = try subtract(left, basis)
            }
        }
        return result
    }

    // Arithmetic that reports range errors as the contract's error.
    static func sum(_ values: [ExactDecimal]) throws(DomainError) -> ExactDecimal {
        var total = ExactDecimal.zero
        for value in values { total = try add(total, value) }
        return total
    }

    static func add(_ a: ExactDecimal, _ b: ExactDecimal) throws(DomainError) -> ExactDecimal {
        do { return try a.adding(b) } catch { throw .invalidArgument(field: "quantity", reason: "is out of range") }
    }

    static func subtract(_ a: ExactDecimal, _ b: ExactDecimal) throws(DomainError) -> ExactDecimal {
        do { return try a.subtracting(b) } catch { throw .invalidArgument(field: "quantity", reason: "is out of range") }
    }

    /// Exact when the product has at most 18 decimals (quantities and prices as the contract
    /// carries them); rounded half-even at 18 decimals beyond (after splits of split lots).
    static func multiply(_ a: ExactDecimal, _ b: ExactDecimal) throws(DomainError) -> ExactDecimal {
        do { return try a.multiplied(by: b, scale: ExactDecimal.maxScale) } catch {
            throw .invalidArgument(field: "quantity", reason: "× price is out of range")
        }
    }

    static func divide(_ a: ExactDecimal, _ b: ExactDecimal) throws(DomainError) -> ExactDecimal {
        do { return try a.divided(by: b) } catch { throw .invalidArgument(field: "quantity", reason: "is out of range") }
    }
}
