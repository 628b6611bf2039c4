import HoldingsProto

/// Shares of one sale's part sold at a loss, while some are not matched with replacement
/// shares yet (the ledger of a client and ticker).
public struct WashLoss: Sendable, Hashable {
    public var saleEventId: String
    /// Index of the part in the sale's realized parts.
    public var partIndex: Int
    public var positionId: String
    public var lotId: String
    public var soldAt: Instant
    /// Holding period start of the shares sold (carried over to a replacement).
    public var holdingStart: Instant
    /// Shares of the part and its loss (> 0), at the sale.
    public var quantity: ExactDecimal
    public var loss: ExactDecimal
    /// Shares not matched yet.
    public var unmatched: ExactDecimal

    public init(saleEventId: String, partIndex: Int, positionId: String, lotId: String, soldAt: Instant, holdingStart: Instant,
                quantity: ExactDecimal, loss: ExactDecimal, unmatched: ExactDecimal) {
        (self.saleEventId, self.partIndex, self.positionId, self.lotId, self.soldAt, self.holdingStart) =
            (saleEventId, partIndex, positionId, lotId, soldAt, holdingStart)
        (self.quantity, self.loss, self.unmatched) = (quantity, loss, unmatched)
    }
}

/// Wash sales (IRS Pub. 550), as the WashSaleMatch comment of common.proto states them:
/// a loss is disallowed, share for share, when replacement shares of the same client and
/// ticker were acquired within 30 calendar days (UTC dates) before or after the sale; the
/// disallowed loss moves into the replacement lot's basis and the sold shares' holding
/// period into its holding period.
public enum WashSales {
    public static let windowDays: Int64 = 30
    private static let day: Int64 = 86_400_000_000

    static func utcDay(_ instant: Instant) -> Int64 {
        let (quotient, remainder) = instant.microseconds.quotientAndRemainder(dividingBy: day)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// Whether two instants fall on UTC dates at most 30 days apart.
    public static func inWindow(_ a: Instant, _ b: Instant) -> Bool {
        abs(utcDay(a) - utcDay(b)) <= windowDays
    }

    /// A replacement's holding period start: earlier than its acquisition by the sold
    /// shares' holding period (sold_at − their start; none when negative).
    static func carriedStart(acquired: Instant, soldAt: Instant, soldStart: Instant) -> Instant {
        Instant(microseconds: acquired.microseconds - max(0, soldAt.microseconds - soldStart.microseconds))
    }

    /// loss × shares ÷ the part's shares, half-even at 10 places (the whole loss for all of them).
    static func disallowed(_ loss: WashLoss, shares: ExactDecimal) throws(DomainError) -> ExactDecimal {
        shares == loss.quantity ? loss.loss : try LotEngine.divide(try LotEngine.multiply(loss.loss, shares), loss.quantity)
    }

    /// `part` shares of `lot` as a lot of their own: basis and fees by quantity (half-even,
    /// 10 places); the rest keeps the exact remainder. Returns (the part, the rest or nil).
    static func split(_ lot: LotState, part: ExactDecimal) throws(DomainError) -> (LotState, LotState?) {
        guard part < lot.quantity else { return (lot, nil) }
        var piece = lot, rest = lot
        piece.quantity = part
        piece.originalQuantity = part
        piece.costBasis = try LotEngine.divide(try LotEngine.multiply(lot.costBasis, part), lot.quantity)
        piece.fees = try LotEngine.divide(try LotEngine.multiply(lot.fees, part), lot.quantity)
        rest.quantity = try LotEngine.subtract(lot.quantity, part)
        rest.costBasis = try LotEngine.subtract(lot.costBasis, piece.costBasis)
        rest.fees = try LotEngine.subtract(lot.fees, piece.fees)
        let original = try LotEngine.subtract(lot.originalQuantity, part)
        rest.originalQuantity = original.isPositive ? original : rest.quantity
        return (piece, rest)
    }

    static func match(_ loss: WashLoss, shares: ExactDecimal, disallowed: ExactDecimal, replacementPosition: String,
                      replacementLot: String) -> Ultracore_Holdings_V1_WashSaleMatch {
        var match = Ultracore_Holdings_V1_WashSaleMatch()
        match.saleEventId = loss.saleEventId
        match.salePositionId = loss.positionId
        match.soldLotId = loss.lotId
        match.soldPartIndex = Int32(loss.partIndex)
        match.replacementPositionId = replacementPosition
        match.replacementLotId = replacementLot
        match.quantity = shares.description
        match.disallowedLoss = disallowed.description
        match.soldAt = loss.soldAt.timestamp
        return match
    }

    /// A buy (`lot`, numbered `lot.sequence`) against the client's unmatched `losses` of the
    /// ticker, oldest sale first: the lots the buy creates (one replacement lot per match,
    /// then the unmatched rest; the first keeps the buy's lot id, the others take the next
    /// numbers) and the matches.
    public static func matchBuy(_ lot: LotState, positionId: String, losses: [WashLoss]) throws(DomainError)
        -> (lots: [LotState], matches: [Ultracore_Holdings_V1_WashSaleMatch]) {
        var rest: LotState? = lot
        var created: [LotState] = []
        var matches: [Ultracore_Holdings_V1_WashSaleMatch] = []
        for loss in losses.sorted(by: { ($0.soldAt, $0.saleEventId, $0.partIndex) < ($1.soldAt, $1.saleEventId, $1.partIndex) })
        where loss.unmatched.isPositive && inWindow(loss.soldAt, lot.acquiredAt) {
            guard let current = rest else { break }
            let shares = min(current.quantity, loss.unmatched)
            let disallowed = try disallowed(loss, shares: shares)
            var (piece, remainder) = try split(current, part: shares)
            piece.costBasis = try LotEngine.add(piece.costBasis, disallowed)
            piece.washSaleAdjustment = disallowed
            piece.holdingStart = carriedStart(acquired: piece.acquiredAt, soldAt: loss.soldAt, soldStart: loss.holdingStart)
            created.append(piece)
            rest = remainder
            matches.append(match(loss, shares: shares, disallowed: disallowed, replacementPosition: positionId, replacementLot: ""))
        }
        if let rest { created.append(rest) }
        // Number the pieces: the buy's lot id first, then the following numbers.
        for index in created.indices {
            let number = lot.sequence + index
            created[index].lotId = "L\(number)"
            created[index].sequence = number
            if index < matches.count { matches[index].replacementLotId = created[index].lotId }
        }
        return (created, matches)
    }

    /// A sale's loss parts against the lots it leaves open (not the lots it sold from, not
    /// replacement lots) acquired within the window of `soldAt`, in acquisition order. The
    /// parts get their disallowed losses; the lots created or changed, and the matches.
    public static func matchSale(_ sale: inout Sale, position: PositionState, saleEventId: String, soldAt: Instant) throws(DomainError)
        -> (lots: [LotState], matches: [Ultracore_Holdings_V1_WashSaleMatch]) {
        let soldFrom = Set(sale.realized.map(\.lotId))
        var lots = sale.remaining
        var changed: [String: LotState] = [:]
        var order: [String] = []
        var nextLot = position.nextLot
        var matches: [Ultracore_Holdings_V1_WashSaleMatch] = []
        for (index, part) in sale.realized.enumerated() where part.realizedGain.isNegative {
            var loss = WashLoss(saleEventId: saleEventId, partIndex: index, positionId: position.positionId, lotId: part.lotId,
                                soldAt: soldAt, holdingStart: part.holdingStart, quantity: part.quantity,
                                loss: part.realizedGain.magnitude, unmatched: part.quantity)
            var disallowedTotal = ExactDecimal.zero
            for candidate in lots.indices.sorted(by: { PositionState.inOrder(lots[$0], lots[$1]) }) where loss.unmatched.isPositive {
                let lot = lots[candidate]
                guard !soldFrom.contains(lot.lotId), lot.washSaleAdjustment == nil, inWindow(lot.acquiredAt, soldAt) else { continue }
                let shares = min(lot.quantity, loss.unmatched)
                let disallowed = try disallowed(loss, shares: shares)
                var (piece, remainder) = try split(lot, part: shares)
                if let remainder {
                    // The matched shares become a new lot; the original id keeps the rest.
                    piece.lotId = "L\(nextLot)"
                    piece.sequence = nextLot
                    nextLot += 1
                    lots[candidate] = remainder
                    lots.append(piece)
                    changed[remainder.lotId] = remainder
                    if !order.contains(remainder.lotId) { order.append(remainder.lotId) }
                }
                piece.costBasis = try LotEngine.add(piece.costBasis, disallowed)
                piece.washSaleAdjustment = disallowed
                piece.holdingStart = carriedStart(acquired: piece.acquiredAt, soldAt: soldAt, soldStart: loss.holdingStart)
                if let at = lots.firstIndex(where: { $0.lotId == piece.lotId }) { lots[at] = piece }
                changed[piece.lotId] = piece
                if !order.contains(piece.lotId) { order.append(piece.lotId) }
                loss.unmatched = try LotEngine.subtract(loss.unmatched, shares)
                disallowedTotal = try LotEngine.add(disallowedTotal, disallowed)
                matches.append(match(loss, shares: shares, disallowed: disallowed, replacementPosition: position.positionId,
                                     replacementLot: piece.lotId))
            }
            sale.realized[index].washSaleDisallowed = disallowedTotal
        }
        sale.remaining = lots.sorted(by: PositionState.inOrder)
        return (order.compactMap { changed[$0] }, matches)
    }

    /// How an event changes a ledger of unmatched losses: the loss parts a sale adds (what
    /// its own matches left unmatched) and the shares matched by each match. The write
    /// model and the projector both read events through this function.
    public static func ledgerChanges(of event: Ultracore_Holdings_V1_Event) -> (added: [WashLoss], matched: [Ultracore_Holdings_V1_WashSaleMatch]) {
        switch event.payload {
        case .positionOpened(let opened)?: return ([], opened.washSaleMatches)
        case .lotAdded(let added)?: return ([], added.washSaleMatches)
        case .lotsSold(let sold)?:
            return (losses(sold.realized, matches: sold.washSaleMatches, event: event, soldAt: sold.soldAt), [])
        case .positionClosed(let closed)?:
            return (losses(closed.realized, matches: closed.washSaleMatches, event: event, soldAt: closed.closedAt), [])
        default: return ([], [])
        }
    }

    private static func losses(_ parts: [Ultracore_Holdings_V1_RealizedLot], matches: [Ultracore_Holdings_V1_WashSaleMatch],
                               event: Ultracore_Holdings_V1_Event, soldAt: Google_Protobuf_Timestamp?) -> [WashLoss] {
        guard let soldAt = soldAt.flatMap(Instant.init) else { return [] }
        var result: [WashLoss] = []
        for (index, part) in parts.enumerated() {
            guard let gain = ExactDecimal(part.realizedGain), gain.isNegative, let quantity = ExactDecimal(part.quantity),
                  let acquired = part.acquiredAt.flatMap(Instant.init) else { continue }
            var unmatched = quantity
            for match in matches where Int(match.soldPartIndex) == index {
                unmatched = (try? unmatched.subtracting(ExactDecimal(match.quantity) ?? .zero)) ?? unmatched
            }
            guard unmatched.isPositive else { continue }
            let start = part.holdingPeriodStart.flatMap(Instant.init) ?? acquired
            result.append(WashLoss(saleEventId: event.eventId, partIndex: index, positionId: event.aggregateId, lotId: part.lotId,
                                   soldAt: soldAt, holdingStart: start, quantity: quantity, loss: gain.magnitude, unmatched: unmatched))
        }
        return result
    }
}

extension WashSales {
    /// Applies an event's ledger changes to an in-memory ledger of one client and ticker.
    public static func apply(_ event: Ultracore_Holdings_V1_Event, to ledger: inout [WashLoss]) {
        let (added, matched) = ledgerChanges(of: event)
        ledger += added
        for match in matched {
            guard let index = ledger.firstIndex(where: { $0.saleEventId == match.saleEventId && $0.partIndex == Int(match.soldPartIndex) }),
                  let shares = ExactDecimal(match.quantity) else { continue }
            ledger[index].unmatched = (try? ledger[index].unmatched.subtracting(shares)) ?? .zero
        }
        ledger.removeAll { !$0.unmatched.isPositive }
    }
}
