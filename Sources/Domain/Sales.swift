import HoldingsProto

/// A validated sale: SellLots (some shares) or ClosePosition (all of them).
public struct SellCommand: Sendable {
    public var quantity: ExactDecimal?
    public var price: ExactDecimal
    public var fees: ExactDecimal
    public var method: LotSelectionMethod
    public var protoMethod: Ultracore_Holdings_V1_CostBasisMethod
    public var tradeTime: Instant

    /// SellLots: `quantity` shares; SPECIFIC_ID takes `lot_selections`, the others refuse them.
    public init(_ request: Ultracore_Holdings_V1_SellLotsRequest, now: Instant) throws(DomainError) {
        _ = try Validation.identifier(request.clientId, field: "client_id")
        _ = try Validation.ticker(request.ticker)
        quantity = try Validation.quantity(request.quantity, field: "quantity")
        price = try Validation.price(request.price, field: "price")
        fees = try Validation.fees(request.fees)
        tradeTime = try Validation.tradeTime(request.tradeTime, now: now)
        protoMethod = request.method
        switch request.method {
        case .specificId:
            guard !request.lotSelections.isEmpty else {
                throw .invalidArgument(field: "lot_selections", reason: "is required with SPECIFIC_ID")
            }
            guard request.lotSelections.count <= 10_000 else {
                throw .invalidArgument(field: "lot_selections", reason: "holds \(request.lotSelections.count) selections; at most 10,000")
            }
            var selections: [(lotId: String, quantity: ExactDecimal)] = []
            for (index, selection) in request.lotSelections.enumerated() {
                let lotId = try Validation.identifier(selection.lotId, field: "lot_selections[\(index)].lot_id")
                selections.append((lotId, try Validation.quantity(selection.quantity, field: "lot_selections[\(index)].quantity")))
            }
            method = .specific(selections)
        default:
            guard request.lotSelections.isEmpty else {
                throw .invalidArgument(field: "lot_selections", reason: "are only accepted with SPECIFIC_ID")
            }
            method = try Self.method(request.method, field: "method")
        }
    }

    /// ClosePosition: every share; SPECIFIC_ID is refused (there is nothing to choose).
    public init(_ request: Ultracore_Holdings_V1_ClosePositionRequest, now: Instant) throws(DomainError) {
        _ = try Validation.identifier(request.positionId, field: "position_id")
        quantity = nil
        price = try Validation.price(request.price, field: "price")
        fees = try Validation.fees(request.fees)
        tradeTime = try Validation.tradeTime(request.tradeTime, now: now)
        protoMethod = request.method
        guard request.method != .specificId else {
            throw .invalidArgument(field: "method", reason: "SPECIFIC_ID is not accepted by ClosePosition: every lot is sold")
        }
        method = try Self.method(request.method, field: "method")
    }

    static func method(_ method: Ultracore_Holdings_V1_CostBasisMethod, field: String) throws(DomainError) -> LotSelectionMethod {
        switch method {
        case .fifo: return .fifo
        case .lifo: return .lifo
        case .hifo: return .hifo
        case .average: return .average
        case .unspecified: throw .invalidArgument(field: field, reason: "is required (FIFO, LIFO, HIFO, AVERAGE or SPECIFIC_ID)")
        default: throw .invalidArgument(field: field, reason: "holds an unknown cost basis method \(method.rawValue)")
        }
    }

    /// The sale against `position`: LOTS_SOLD, or POSITION_CLOSED when no share remains.
    public func decide(_ position: PositionState, context: EventContext) throws(DomainError) -> (event: Ultracore_Holdings_V1_Event, sale: Sale) {
        guard position.status == .open else {
            throw .failedPrecondition("position \(position.positionId) is closed")
        }
        var sale = try LotEngine.sell(position.lots, quantity: quantity ?? position.quantity, price: price, fees: fees,
                                      method: method, at: tradeTime)
        let wash = try WashSales.matchSale(&sale, position: position, saleEventId: context.eventId, soldAt: tradeTime)
        let realized = sale.realized.map { $0.proto }
        var event = context.envelope(aggregateId: position.positionId, version: position.version + 1, clientId: position.clientId)
        if sale.remaining.isEmpty {
            var closed = Ultracore_Holdings_V1_PositionClosed()
            closed.positionId = position.positionId
            closed.clientId = position.clientId
            closed.ticker = position.ticker
            closed.method = protoMethod
            closed.price = price.description
            closed.closedAt = tradeTime.timestamp
            closed.realized = realized
            closed.totalRealizedGain = sale.totalRealizedGain.description
            closed.fees = fees.description
            event.eventType = .positionClosed
            event.payload = .positionClosed(closed)
        } else {
            var sold = Ultracore_Holdings_V1_LotsSold()
            sold.positionId = position.positionId
            sold.clientId = position.clientId
            sold.ticker = position.ticker
            sold.method = protoMethod
            sold.price = price.description
            sold.quantity = (quantity ?? position.quantity).description
            sold.fees = fees.description
            sold.soldAt = tradeTime.timestamp
            sold.realized = realized
            sold.totalRealizedGain = sale.totalRealizedGain.description
            sold.washSaleLots = wash.lots.map { $0.proto(now: tradeTime, lastPrice: nil) }
            sold.washSaleMatches = wash.matches
            event.eventType = .lotsSold
            event.payload = .lotsSold(sold)
        }
        return (event, sale)
    }
}

extension RealizedPart {
    public var proto: Ultracore_Holdings_V1_RealizedLot {
        var lot = Ultracore_Holdings_V1_RealizedLot()
        lot.lotId = lotId
        lot.acquiredAt = acquiredAt.timestamp
        lot.soldAt = soldAt.timestamp
        lot.quantity = quantity.description
        lot.unitCost = unitCost.description
        lot.costBasis = costBasis.description
        lot.proceeds = proceeds.description
        lot.realizedGain = realizedGain.description
        lot.term = term == .long ? .longTerm : .shortTerm
        if washSaleDisallowed.isPositive { lot.washSaleDisallowed = washSaleDisallowed.description }
        if holdingStart != acquiredAt { lot.holdingPeriodStart = holdingStart.timestamp }
        return lot
    }
}

/// Short-term and long-term totals of realized (or unrealized) gains.
public enum Gains {
    /// Short/long/total of realized lots as the contract carries them.
    public static func summary(realized lots: [Ultracore_Holdings_V1_RealizedLot]) -> Ultracore_Holdings_V1_GainSummary {
        summary(parts(of: lots))
    }

    public static func parts(of lots: [Ultracore_Holdings_V1_RealizedLot]) -> [(gain: ExactDecimal, term: HoldingPeriod)] {
        lots.map { (ExactDecimal($0.realizedGain) ?? .zero, $0.term == .longTerm ? .long : .short) }
    }

    public static func summary(_ parts: [(gain: ExactDecimal, term: HoldingPeriod)]) -> Ultracore_Holdings_V1_GainSummary {
        var short = ExactDecimal.zero
        var long = ExactDecimal.zero
        for part in parts {
            if part.term == .long { long = (try? long.adding(part.gain)) ?? long } else { short = (try? short.adding(part.gain)) ?? short }
        }
        var summary = Ultracore_Holdings_V1_GainSummary()
        summary.shortTerm = short.description
        summary.longTerm = long.description
        summary.total = ((try? short.adding(long)) ?? .zero).description
        return summary
    }
}

/// A mark of a position to a price (UpdatePositionValue, PublishPrices).
public enum Valuation {
    public static func decide(_ position: PositionState, price: ExactDecimal, pricedAt: Instant, context: EventContext) throws(DomainError) -> Ultracore_Holdings_V1_Event {
        guard position.status == .open else { throw .failedPrecondition("position \(position.positionId) is closed") }
        var valued = Ultracore_Holdings_V1_PositionValued()
        valued.positionId = position.positionId
        valued.clientId = position.clientId
        valued.ticker = position.ticker
        valued.price = price.description
        valued.pricedAt = pricedAt.timestamp
        valued.previousPrice = position.lastPrice?.description ?? ""
        valued.quantity = position.quantity.description
        if let value = try? position.quantity.multiplied(by: price, scale: 18) {
            valued.marketValue = value.description
            valued.unrealizedGain = ((try? value.subtracting(position.costBasis)) ?? .zero).description
        }
        var event = context.envelope(aggregateId: position.positionId, version: position.version + 1, clientId: position.clientId)
        event.eventType = .positionValued
        event.payload = .positionValued(valued)
        return event
    }
}
