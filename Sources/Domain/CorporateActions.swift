import HoldingsProto

/// A validated corporate action for every holder of a ticker.
public struct CorporateAction: Sendable {
    public enum Kind: Sendable {
        /// `to` new shares per `from` old ones; fractions of a share left over are paid at `cashInLieuPrice`.
        case split(to: Int, from: Int, cashInLieuPrice: ExactDecimal?)
        /// Cash per share; with `reinvestAt`, the cash buys shares at that price (a new lot).
        case dividend(perShare: ExactDecimal, reinvestAt: ExactDecimal?)
    }

    public var ticker: String
    public var kind: Kind
    public var effectiveAt: Instant

    /// Shares of a reinvestment are rounded down to this many decimals; the rest stays cash.
    public static let reinvestmentScale = 6

    public init(_ request: Ultracore_Holdings_V1_ApplyCorporateActionRequest, now: Instant) throws(DomainError) {
        ticker = try Validation.ticker(request.ticker)
        effectiveAt = try Validation.tradeTime(request.effectiveAt, now: now, field: "effective_at")
        switch request.type {
        case .split:
            func ratio(_ text: String, _ field: String) throws(DomainError) -> Int {
                guard let value = Int(text), value > 0, value <= 1_000_000 else {
                    throw .invalidArgument(field: field, reason: "must be a positive integer up to 1,000,000")
                }
                return value
            }
            let to = try ratio(request.splitTo, "split_to")
            let from = try ratio(request.splitFrom, "split_from")
            guard to != from else { throw .invalidArgument(field: "split_to", reason: "equals split_from: nothing to split") }
            let price = request.cashInLieuPrice.isEmpty ? nil : try Validation.price(request.cashInLieuPrice, field: "cash_in_lieu_price")
            guard request.dividendPerShare.isEmpty, !request.reinvest else {
                throw .invalidArgument(field: "dividend_per_share", reason: "and reinvest belong to CASH_DIVIDEND, not SPLIT")
            }
            kind = .split(to: to, from: from, cashInLieuPrice: price)
        case .cashDividend:
            let perShare = try Validation.price(request.dividendPerShare, field: "dividend_per_share")
            var reinvestAt: ExactDecimal?
            if request.reinvest {
                reinvestAt = try Validation.price(request.reinvestmentPrice, field: "reinvestment_price")
            } else if !request.reinvestmentPrice.isEmpty {
                throw .invalidArgument(field: "reinvestment_price", reason: "is only used with reinvest")
            }
            guard request.splitTo.isEmpty, request.splitFrom.isEmpty else {
                throw .invalidArgument(field: "split_to", reason: "and split_from belong to SPLIT, not CASH_DIVIDEND")
            }
            kind = .dividend(perShare: perShare, reinvestAt: reinvestAt)
        case .unspecified:
            throw .invalidArgument(field: "type", reason: "is required (SPLIT or CASH_DIVIDEND)")
        default:
            throw .invalidArgument(field: "type", reason: "holds an unknown corporate action type \(request.type.rawValue)")
        }
    }

    /// The CORPORATE_ACTION_APPLIED event of one position. The event carries the lots as
    /// they stand after the action, so replaying it needs no arithmetic.
    public func decide(_ position: PositionState, actionId: String, context: EventContext) throws(DomainError) -> Ultracore_Holdings_V1_Event {
        guard position.status == .open, position.ticker == ticker else {
            throw .failedPrecondition("position \(position.positionId) is not an open \(ticker) position")
        }
        var applied = Ultracore_Holdings_V1_CorporateActionApplied()
        applied.actionId = actionId
        applied.positionId = position.positionId
        applied.clientId = position.clientId
        applied.ticker = ticker
        applied.effectiveAt = effectiveAt.timestamp
        applied.quantityBefore = position.quantity.description
        var lots = position.lots
        var realized = ExactDecimal.zero
        switch kind {
        case .split(let to, let from, let price):
            applied.type = .split
            applied.splitTo = String(to)
            applied.splitFrom = String(from)
            for index in lots.indices {
                // Exact when from divides to × quantity at 10 places; otherwise the split leaves a fraction below.
                lots[index].quantity = try LotEngine.divide(try LotEngine.multiply(lots[index].quantity, ExactDecimal(to)), ExactDecimal(from))
                lots[index].originalQuantity = try LotEngine.divide(try LotEngine.multiply(lots[index].originalQuantity, ExactDecimal(to)), ExactDecimal(from))
            }
            // The position's shares after the split: shares × to ÷ from, half-even at 10 places. Lots
            // rounded one by one may not add up to it: the lot with the most shares absorbs the
            // difference (a few 10^-10), so the split never pays a whole share in lieu of rounding dust.
            let total = try LotEngine.divide(try LotEngine.multiply(position.quantity, ExactDecimal(to)), ExactDecimal(from))
            let dust = try LotEngine.subtract(total, try LotEngine.sum(lots.map(\.quantity)))
            if !dust.isZero, let largest = lots.indices.max(by: { lots[$0].quantity < lots[$1].quantity }) {
                lots[largest].quantity = try LotEngine.add(lots[largest].quantity, dust)
            }
            let whole = total.roundedDown(scale: 0)
            let fraction = try LotEngine.subtract(total, whole)
            if fraction.isPositive {
                guard let price else {
                    throw .invalidArgument(field: "cash_in_lieu_price", reason: "is required: the split leaves \(fraction) of a share in position \(position.positionId)")
                }
                // The fraction leaves from the most recently acquired lots first (lots are in
                // acquisition order); each part is a sale at the cash-in-lieu price.
                var left = fraction
                var basisOut = ExactDecimal.zero
                let cash = try LotEngine.multiply(fraction, price)
                var cashLeft = cash
                var parts: [RealizedPart] = []
                for index in lots.indices.reversed() where left.isPositive {
                    let take = min(left, lots[index].quantity)
                    let basis = take == lots[index].quantity ? lots[index].costBasis
                        : try LotEngine.divide(try LotEngine.multiply(lots[index].costBasis, take), lots[index].quantity)
                    left = try LotEngine.subtract(left, take)
                    let proceeds = left.isPositive ? try LotEngine.multiply(take, price) : cashLeft
                    cashLeft = try LotEngine.subtract(cashLeft, proceeds)
                    parts.append(RealizedPart(
                        lotId: lots[index].lotId, acquiredAt: lots[index].acquiredAt, soldAt: effectiveAt, quantity: take,
                        costBasis: basis, proceeds: proceeds, term: HoldingPeriod.term(acquired: lots[index].holdingStart, at: effectiveAt)))
                    lots[index].quantity = try LotEngine.subtract(lots[index].quantity, take)
                    lots[index].costBasis = try LotEngine.subtract(lots[index].costBasis, basis)
                    basisOut = try LotEngine.add(basisOut, basis)
                }
                applied.cashInLieu = cash.description
                realized = try LotEngine.subtract(cash, basisOut)
                applied.cashInLieuGain = realized.description
                applied.cashInLieuRealized = parts.map(\.proto)
                lots = lots.filter { $0.quantity.isPositive }
            }
        case .dividend(let perShare, let reinvestAt):
            applied.type = .cashDividend
            applied.dividendPerShare = perShare.description
            let amount = try LotEngine.multiply(position.quantity, perShare)
            applied.dividendAmount = amount.description
            if let reinvestAt {
                let shares = try LotEngine.divide(amount, reinvestAt).roundedDown(scale: Self.reinvestmentScale)
                if shares.isPositive {
                    let basis = try LotEngine.multiply(shares, reinvestAt)
                    let lot = LotState(lotId: "L\(position.nextLot)", sequence: position.nextLot, acquiredAt: effectiveAt,
                                       quantity: shares, originalQuantity: shares, costBasis: basis, fees: .zero,
                                       sourceEventId: context.eventId)
                    lots.append(lot)
                    applied.reinvestedLot = lot.proto(now: effectiveAt, lastPrice: nil)
                }
            }
        }
        applied.quantityAfter = try LotEngine.sum(lots.map(\.quantity)).description
        applied.lotsAfter = lots.map { $0.proto(now: effectiveAt, lastPrice: nil) }

        var event = context.envelope(aggregateId: position.positionId, version: position.version + 1, clientId: position.clientId)
        event.eventType = .corporateActionApplied
        event.payload = .corporateActionApplied(applied)
        return event
    }
}

extension ExactDecimal {
    /// Rounded toward zero to `scale` fractional digits.
    public func roundedDown(scale target: Int) -> ExactDecimal {
        guard scale > target else { return self }
        var divisor: Int128 = 1
        for _ in 0..<(scale - target) { divisor *= 10 }
        return ExactDecimal(unchecked: significand / divisor, scale: target)
    }
}
