import HoldingsProto

/// A point in time in microseconds since the Unix epoch (UTC): the resolution Postgres
/// keeps, so state rebuilt from the read models equals the live state.
public struct Instant: Sendable, Hashable, Comparable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Truncates to microseconds; nil outside 0001-01-01 ... 9999-12-31 or with invalid nanos.
    public init?(_ timestamp: Google_Protobuf_Timestamp) {
        guard timestamp.seconds >= -62_135_596_800, timestamp.seconds <= 253_402_300_799,
              timestamp.nanos >= 0, timestamp.nanos <= 999_999_999 else { return nil }
        microseconds = timestamp.seconds * 1_000_000 + Int64(timestamp.nanos / 1000)
    }

    public var timestamp: Google_Protobuf_Timestamp {
        var value = Google_Protobuf_Timestamp()
        let seconds = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        value.seconds = seconds.remainder < 0 ? seconds.quotient - 1 : seconds.quotient
        let micros = seconds.remainder < 0 ? seconds.remainder + 1_000_000 : seconds.remainder
        value.nanos = Int32(micros) * 1000
        return value
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.microseconds < b.microseconds }
}

/// A rule the domain refused, mapped to a gRPC status by the service layer.
public enum DomainError: Error, Sendable, Hashable {
    /// A field of the request is malformed or out of range: (field, why).
    case invalidArgument(field: String, reason: String)
    /// The state does not allow the command (selling more than is held, ...).
    case failedPrecondition(String)
    /// An event does not fit the aggregate (wrong version, wrong payload): a bug or corrupt log.
    case inconsistentEvent(String)
    /// The request names something that does not exist.
    case notFound(String)
}

/// One open tax lot. Its basis is kept exactly; the unit cost is derived.
public struct LotState: Sendable, Hashable {
    public var lotId: String
    /// Order of creation within the position (ties in FIFO/LIFO).
    public var sequence: Int
    public var acquiredAt: Instant
    /// Shares still open, exact.
    public var quantity: ExactDecimal
    public var originalQuantity: ExactDecimal
    /// Cost of the open shares including fees, currency units, exact.
    public var costBasis: ExactDecimal
    /// Fees paid on acquisition (part of the basis).
    public var fees: ExactDecimal
    public var sourceEventId: String
    /// Start of the holding period (terms are judged from it): `acquiredAt`, or earlier for a
    /// wash-sale replacement lot.
    public var holdingStart: Instant
    /// Loss disallowed by a wash sale and added to the basis; nil unless a replacement lot
    /// (which is never matched again).
    public var washSaleAdjustment: ExactDecimal?

    public init(lotId: String, sequence: Int, acquiredAt: Instant, quantity: ExactDecimal, originalQuantity: ExactDecimal,
                costBasis: ExactDecimal, fees: ExactDecimal, sourceEventId: String,
                holdingStart: Instant? = nil, washSaleAdjustment: ExactDecimal? = nil) {
        self.lotId = lotId
        self.sequence = sequence
        self.acquiredAt = acquiredAt
        self.quantity = quantity
        self.originalQuantity = originalQuantity
        self.costBasis = costBasis
        self.fees = fees
        self.sourceEventId = sourceEventId
        self.holdingStart = holdingStart ?? acquiredAt
        self.washSaleAdjustment = washSaleAdjustment
    }

    /// Basis per open share, rounded half-even to 10 places.
    public var unitCost: ExactDecimal {
        (try? costBasis.divided(by: quantity)) ?? .zero
    }
}

public enum PositionStatus: String, Sendable, Hashable {
    case open = "OPEN"
    case closed = "CLOSED"
}

/// A client's holding in one ticker: the aggregate behind a position id. Changed only by
/// applying its events, in version order.
public struct PositionState: Sendable, Hashable {
    public var positionId: String
    public var clientId: String
    public var ticker: String
    public var status: PositionStatus
    /// The open lots. Every change recomputes `quantity` and `costBasis` (didSet without
    /// `oldValue`: lots are still changed in place).
    public var lots: [LotState] {
        didSet { (quantity, costBasis) = Self.totals(lots) }
    }
    /// Shares held: the sum of the open lots. Exact: every state the domain builds passed
    /// ``checkRange()``, so each lot and the sum are within ±10^15 and the additions cannot fail.
    /// Kept with the lots rather than summed at each read (a read per lot made big positions quadratic).
    public private(set) var quantity: ExactDecimal
    /// Basis of the open shares (fees included): the sum of the lots' bases, exact as `quantity`.
    public private(set) var costBasis: ExactDecimal
    public var realizedGain: ExactDecimal
    public var lastPrice: ExactDecimal?
    public var lastPricedAt: Instant?
    public var openedAt: Instant
    public var closedAt: Instant?
    /// Version of the last event applied; gap-free from 1.
    public var version: Int64
    public var updatedAt: Instant
    /// Number of the next lot id ("L<n>").
    public var nextLot: Int

    public init(positionId: String, clientId: String, ticker: String, status: PositionStatus, lots: [LotState],
                realizedGain: ExactDecimal, lastPrice: ExactDecimal?, lastPricedAt: Instant?, openedAt: Instant,
                closedAt: Instant?, version: Int64, updatedAt: Instant, nextLot: Int) {
        self.positionId = positionId
        self.clientId = clientId
        self.ticker = ticker
        self.status = status
        self.lots = lots
        (quantity, costBasis) = Self.totals(lots)
        self.realizedGain = realizedGain
        self.lastPrice = lastPrice
        self.lastPricedAt = lastPricedAt
        self.openedAt = openedAt
        self.closedAt = closedAt
        self.version = version
        self.updatedAt = updatedAt
        self.nextLot = nextLot
    }

    /// Sums of the lots' quantities and bases, each within ±10^15 per lot (at most 10^6 × 10^15
    /// in all, far inside ExactDecimal's range).
    static func totals(_ lots: [LotState]) -> (quantity: ExactDecimal, basis: ExactDecimal) {
        var quantity = ExactDecimal.zero, basis = ExactDecimal.zero
        for lot in lots {
            // Cannot fail for values checked by checkRange (|sum| < 10^18 for fewer than 1,000 lots of 10^15,
            // and each lot's share of a checked total is smaller still); a sum that would is never reached
            // in practice and `checkRange` reports the same sum as an error first.
            quantity = (try? quantity.adding(lot.quantity)) ?? quantity
            basis = (try? basis.adding(lot.costBasis)) ?? basis
        }
        return (quantity, basis)
    }

    /// Refuses a state any of whose amounts leaves ±10^15: each lot's quantity, original
    /// quantity, basis and fees; the position's quantity, basis, realized gain, last price,
    /// market value and unrealized gain. Part of ``apply(_:)``, so the write model (before it
    /// produces) and the projector (when it reads the log) refuse the same events.
    public func checkRange() throws(DomainError) {
        var quantity = ExactDecimal.zero, basis = ExactDecimal.zero
        for lot in lots {
            try Limits.check(lot.quantity, "the quantity of lot \(lot.lotId) of \(positionId)")
            try Limits.check(lot.originalQuantity, "the original quantity of lot \(lot.lotId) of \(positionId)")
            try Limits.check(lot.costBasis, "the basis of lot \(lot.lotId) of \(positionId)")
            try Limits.check(lot.fees, "the fees of lot \(lot.lotId) of \(positionId)")
            quantity = try LotEngine.add(quantity, lot.quantity)
            basis = try LotEngine.add(basis, lot.costBasis)
            try Limits.check(quantity, "the quantity of position \(positionId)")
            try Limits.check(basis, "the basis of position \(positionId)")
        }
        try Limits.check(realizedGain, "the realized gain of position \(positionId)")
        if let lastPrice {
            try Limits.check(lastPrice, "the last price of position \(positionId)")
            let value: ExactDecimal
            do { value = try quantity.multiplied(by: lastPrice, scale: ExactDecimal.maxScale) } catch {
                throw .failedPrecondition("the market value of position \(positionId) would be beyond the documented range of ±10^15")
            }
            try Limits.check(value, "the market value of position \(positionId)")
            try Limits.check(try LotEngine.subtract(value, basis), "the unrealized gain of position \(positionId)")
        }
    }

    /// The contract's one valuation rule, used wherever a portfolio is valued (GetPortfolioValue,
    /// MonitorPortfolio, rebalancing, the valuation history): quantity × `price` (the last price
    /// when nil); a position never priced counts at its cost basis.
    public func marketValue(at price: ExactDecimal? = nil) throws(DomainError) -> ExactDecimal {
        try Self.marketValue(quantity: quantity, costBasis: costBasis, lastPrice: lastPrice, at: price, positionId: positionId)
    }

    static func marketValue(quantity: ExactDecimal, costBasis: ExactDecimal, lastPrice: ExactDecimal?, at price: ExactDecimal?,
                            positionId: String) throws(DomainError) -> ExactDecimal {
        guard let price = price ?? lastPrice else { return costBasis }
        do { return try quantity.multiplied(by: price, scale: ExactDecimal.maxScale) } catch {
            throw .failedPrecondition("the market value of position \(positionId) is beyond the documented range of ±10^15")
        }
    }

    /// What a portfolio valuation needs of this position.
    public var summary: PositionSummary {
        PositionSummary(positionId: positionId, ticker: ticker, quantity: quantity, costBasis: costBasis, lastPrice: lastPrice)
    }

    /// The per-share price the valuation rule implies: the last price, or the average cost for a
    /// position never priced.
    public var valuationPrice: ExactDecimal {
        if let lastPrice { return lastPrice }
        return (try? costBasis.divided(by: quantity, scale: ExactDecimal.maxScale)) ?? .zero
    }

    /// Puts the lots in the contract's order (after loading them from storage).
    public mutating func orderLots() {
        lots.sort(by: Self.inOrder)
    }

    /// Positions in report order (GetPortfolioValue, GetUnrealizedGainLoss): ticker, then
    /// opening time, then id.
    public static func inReportOrder(_ a: PositionState, _ b: PositionState) -> Bool {
        (a.ticker, a.openedAt, a.positionId) < (b.ticker, b.openedAt, b.positionId)
    }

    /// Lots in the contract's order: acquisition time, then creation order (the lot number).
    public static func inOrder(_ a: LotState, _ b: LotState) -> Bool {
        (a.acquiredAt, a.sequence) < (b.acquiredAt, b.sequence)
    }

    /// Adds a lot where its acquisition time puts it (usually last: O(1) then).
    mutating func insert(_ lot: LotState) {
        var index = lots.endIndex
        while index > lots.startIndex, Self.inOrder(lot, lots[index - 1]) { index -= 1 }
        lots.insert(lot, at: index)
    }

    /// Lots an event creates or changes (wash-sale replacement lots, as they stand after it):
    /// replaces the lot of the same id, or adds it; lot ids are "L<n>" and n is the lot number.
    mutating func upsert(_ changed: [Ultracore_Holdings_V1_Lot], event: Ultracore_Holdings_V1_Event) throws(DomainError) {
        for proto in changed {
            guard proto.lotId.hasPrefix("L"), let number = Int(proto.lotId.dropFirst()), number > 0, number < 1_000_000_000 else {
                throw .inconsistentEvent("event \(event.eventId) carries a lot id '\(proto.lotId.prefix(20))' that is not L<n>")
            }
            let lot = try LotState(proto: proto, sequence: number, event: event)
            guard lot.quantity.isPositive else { throw .inconsistentEvent("event \(event.eventId) carries an empty lot \(proto.lotId)") }
            lots.removeAll { $0.lotId == lot.lotId }
            insert(lot)
            nextLot = max(nextLot, number + 1)
        }
    }

    /// The state after `event`: `current` with the event applied, or the position the event
    /// opens. The one function that decides whether an event applies, for the write model
    /// (before it produces) and the projector (when it reads the log).
    public static func next(_ current: PositionState?, _ event: Ultracore_Holdings_V1_Event) throws(DomainError) -> PositionState {
        guard var position = current else { return try opened(by: event) }
        try position.apply(event)
        return position
    }

    /// A new position from its POSITION_OPENED event.
    /// A new position from its first event: POSITION_OPENED, or the TRADE_EXECUTED buy of a
    /// completed rebalancing.
    public static func opened(by event: Ultracore_Holdings_V1_Event) throws(DomainError) -> PositionState {
        let clientId: String, ticker: String, lot: Ultracore_Holdings_V1_Lot
        switch event.payload {
        case .positionOpened(let opened)? where opened.lot != nil:
            (clientId, ticker, lot) = (opened.clientId, opened.ticker, opened.lot!)
        case .tradeExecuted(let trade)? where trade.side == .buy && trade.lot != nil && !RebalancingEvents.isVoid(event):
            (clientId, ticker, lot) = (trade.clientId, trade.ticker, trade.lot!)
        default:
            throw .inconsistentEvent("event \(event.eventId) does not open position \(event.aggregateId)")
        }
        guard event.aggregateVersion == 1 else {
            throw .inconsistentEvent("event \(event.eventId) does not open position \(event.aggregateId)")
        }
        let at = try instant(event.occurredAt, "occurred_at", event)
        let lotState = try LotState(proto: lot, sequence: 1, event: event)
        var position = PositionState(
            positionId: event.aggregateId, clientId: clientId, ticker: ticker, status: .open,
            lots: [lotState], realizedGain: .zero, lastPrice: nil, lastPricedAt: nil, openedAt: lotState.acquiredAt,
            closedAt: nil, version: 1, updatedAt: at, nextLot: 2)
        if case .positionOpened(let opened)? = event.payload { try position.upsert(opened.washSaleLots, event: event) }
        try position.checkRange()
        return position
    }

    /// Applies the next event of this aggregate (version == self.version + 1); throws, and
    /// leaves the position unchanged, when the event does not fit or its result leaves the
    /// documented range (``checkRange()``).
    public mutating func apply(_ event: Ultracore_Holdings_V1_Event) throws(DomainError) {
        var next = self
        try next.applyUnchecked(event)
        try next.checkRange()
        self = next
    }

    private mutating func applyUnchecked(_ event: Ultracore_Holdings_V1_Event) throws(DomainError) {
        guard event.aggregateId == positionId, event.aggregateVersion == version + 1 else {
            throw .inconsistentEvent(
                "event \(event.eventId) is version \(event.aggregateVersion) of \(event.aggregateId), expected \(version + 1) of \(positionId)")
        }
        let at = try Self.instant(event.occurredAt, "occurred_at", event)
        if RebalancingEvents.isVoid(event) {
            // A trade of a run that did not complete: it uses the version, nothing else.
            version = event.aggregateVersion
            return
        }
        switch event.payload {
        case .tradeExecuted(let trade)?:
            guard status == .open else { throw .inconsistentEvent("event \(event.eventId) trades a closed position \(positionId)") }
            if trade.side == .buy {
                guard let lot = trade.lot else { throw .inconsistentEvent("event \(event.eventId) buys without a lot") }
                insert(try LotState(proto: lot, sequence: nextLot, event: event))
                nextLot += 1
            } else {
                try applySale(trade.realized, method: .specificId, event: event)
                if lots.isEmpty {
                    status = .closed
                    closedAt = at
                }
            }
        case .lotAdded(let added)?:
            guard status == .open, let lot = added.lot else {
                throw .inconsistentEvent("event \(event.eventId) adds a lot to a closed position \(positionId)")
            }
            insert(try LotState(proto: lot, sequence: nextLot, event: event))
            nextLot += 1
            try upsert(added.washSaleLots, event: event)
        case .lotsSold(let sold)?:
            guard status == .open else { throw .inconsistentEvent("event \(event.eventId) sells from a closed position \(positionId)") }
            try applySale(sold.realized, method: sold.method, event: event)
            try upsert(sold.washSaleLots, event: event)
            guard !lots.isEmpty else { throw .inconsistentEvent("event \(event.eventId) sells every share but is not a close") }
        case .positionClosed(let closed)?:
            guard status == .open else { throw .inconsistentEvent("event \(event.eventId) closes a closed position \(positionId)") }
            try applySale(closed.realized, method: closed.method, event: event)
            guard lots.isEmpty else { throw .inconsistentEvent("event \(event.eventId) closes \(positionId) but leaves lots open") }
            status = .closed
            closedAt = try Self.instant(closed.closedAt, "closed_at", event)
        case .corporateActionApplied(let applied)?:
            guard status == .open else { throw .inconsistentEvent("event \(event.eventId) changes a closed position \(positionId)") }
            var after: [LotState] = []
            for lot in applied.lotsAfter {
                let sequence = lots.first { $0.lotId == lot.lotId }?.sequence ?? nextLot
                after.append(try LotState(proto: lot, sequence: sequence, event: event))
                if sequence == nextLot { nextLot += 1 }
            }
            lots = after.sorted(by: Self.inOrder)
            if applied.type == .split, let price = lastPrice {
                // The per-share price moves with the split: × from ÷ to, half-even at 18 places.
                guard let to = Int(applied.splitTo), let from = Int(applied.splitFrom), to > 0, from > 0 else {
                    throw .inconsistentEvent("event \(event.eventId) carries a malformed split ratio")
                }
                let scaled: ExactDecimal
                do {
                    scaled = try price.multiplied(by: ExactDecimal(from)).divided(by: ExactDecimal(to), scale: ExactDecimal.maxScale)
                } catch {
                    throw .failedPrecondition("the last price of position \(positionId) would be beyond the documented range of ±10^15")
                }
                guard scaled.isPositive else {
                    throw .failedPrecondition("the split would scale the last price of position \(positionId) below 10^-18")
                }
                lastPrice = scaled
            }
            if !applied.cashInLieuGain.isEmpty {
                guard let gain = ExactDecimal(applied.cashInLieuGain) else {
                    throw .inconsistentEvent("event \(event.eventId) carries a malformed cash_in_lieu_gain")
                }
                realizedGain = try LotEngine.add(realizedGain, gain)
            }
            if lots.isEmpty {
                status = .closed
                closedAt = try Self.instant(applied.effectiveAt, "effective_at", event)
            }
        case .positionValued(let valued)?:
            guard let price = ExactDecimal(valued.price), price.isPositive else {
                throw .inconsistentEvent("event \(event.eventId) carries a malformed price")
            }
            let pricedAt = try Self.instant(valued.pricedAt, "priced_at", event)
            // A quote older than the current one is history (the event stays in the log and the
            // valuation history) but does not replace the newer price.
            if lastPricedAt.map({ pricedAt >= $0 }) ?? true {
                lastPrice = price
                lastPricedAt = pricedAt
            }
        default:
            throw .inconsistentEvent("event \(event.eventId) of type \(event.eventType.protoName ?? "?") is not handled yet")
        }
        version = event.aggregateVersion
        updatedAt = at
    }

    /// Takes the sold quantities and bases out of the lots (re-based at the average first
    /// for AVERAGE, as the sale was decided) and adds the realized gains.
    private mutating func applySale(_ realized: [Ultracore_Holdings_V1_RealizedLot], method: Ultracore_Holdings_V1_CostBasisMethod,
                                    event: Ultracore_Holdings_V1_Event) throws(DomainError) {
        var updated = method == .average ? try LotEngine.averaged(lots) : lots
        var gain = realizedGain
        for part in realized {
            guard let index = updated.firstIndex(where: { $0.lotId == part.lotId }),
                  let quantity = ExactDecimal(part.quantity), let basis = ExactDecimal(part.costBasis),
                  let partGain = ExactDecimal(part.realizedGain), quantity <= updated[index].quantity else {
                throw .inconsistentEvent("event \(event.eventId) sells from lot \(part.lotId) more than it holds or malformed")
            }
            updated[index].quantity = try LotEngine.subtract(updated[index].quantity, quantity)
            updated[index].costBasis = try LotEngine.subtract(updated[index].costBasis, basis)
            gain = try LotEngine.add(gain, partGain)
        }
        lots = updated.filter { $0.quantity.isPositive }
        realizedGain = gain
    }

    static func instant(_ timestamp: Google_Protobuf_Timestamp?, _ field: String, _ event: Ultracore_Holdings_V1_Event) throws(DomainError) -> Instant {
        guard let timestamp, let instant = Instant(timestamp) else {
            throw .inconsistentEvent("event \(event.eventId) has no valid \(field)")
        }
        return instant
    }
}

extension LotState {
    init(proto lot: Ultracore_Holdings_V1_Lot, sequence: Int, event: Ultracore_Holdings_V1_Event) throws(DomainError) {
        guard let quantity = ExactDecimal(lot.quantity), let basis = ExactDecimal(lot.costBasis),
              let original = ExactDecimal(lot.originalQuantity), let fees = ExactDecimal(lot.fees.isEmpty ? "0" : lot.fees),
              let acquired = lot.acquiredAt.flatMap(Instant.init) else {
            throw .inconsistentEvent("event \(event.eventId) carries a malformed lot")
        }
        var adjustment: ExactDecimal?
        if !lot.washSaleAdjustment.isEmpty {
            guard let value = ExactDecimal(lot.washSaleAdjustment), !value.isNegative else {
                throw .inconsistentEvent("event \(event.eventId) carries a malformed wash_sale_adjustment")
            }
            adjustment = value
        }
        let start = lot.holdingPeriodStart.flatMap(Instant.init)
        if lot.holdingPeriodStart != nil && start == nil {
            throw .inconsistentEvent("event \(event.eventId) carries a malformed holding_period_start")
        }
        self.init(lotId: lot.lotId, sequence: sequence, acquiredAt: acquired, quantity: quantity, originalQuantity: original,
                  costBasis: basis, fees: fees, sourceEventId: lot.sourceEventId, holdingStart: start, washSaleAdjustment: adjustment)
    }
}

/// What a portfolio valuation needs of an open position: a few words and no lots, so a
/// client's book can keep them in ticker order for portfolio reads.
public struct PositionSummary: Sendable, Hashable {
    public let positionId: String
    public let ticker: String
    public let quantity: ExactDecimal
    public let costBasis: ExactDecimal
    public let lastPrice: ExactDecimal?

    public init(positionId: String, ticker: String, quantity: ExactDecimal, costBasis: ExactDecimal, lastPrice: ExactDecimal?) {
        self.positionId = positionId
        self.ticker = ticker
        self.quantity = quantity
        self.costBasis = costBasis
        self.lastPrice = lastPrice
    }

    /// The valuation rule of ``PositionState/marketValue(at:)``.
    public func marketValue(at price: ExactDecimal? = nil) throws(DomainError) -> ExactDecimal {
        try PositionState.marketValue(quantity: quantity, costBasis: costBasis, lastPrice: lastPrice, at: price, positionId: positionId)
    }
}
