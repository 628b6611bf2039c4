import Domain
import HoldingsProto
import RPCCore
import Store

/// The valuation of a portfolio, shared by the portfolio reads and rebalancing.
enum PortfolioValuation {
    /// A client's portfolio: open `positions` valued at `prices` (per ticker) or their last
    /// price; a position never priced counts at cost (and is listed in unpriced_position_ids).
    /// Totals and weights cover every open position; the answer lists, in ticker order, at most
    /// `limit` of them from `offset` (only the page answered is built).
    static func portfolio(client: String, positions: [PositionState], prices: [String: ExactDecimal] = [:], offset: Int = 0,
                          limit: Int = .max) throws -> Ultracore_Holdings_V1_GetPortfolioValueResponse {
        let open = positions.filter { $0.status == .open }.sorted(by: PositionState.inReportOrder).map(\.summary)
        return try portfolio(client: client, inReportOrder: open, prices: prices, offset: offset, limit: limit)
    }

    /// a + b of a portfolio total: FAILED_PRECONDITION beyond the range of exact decimals,
    /// never a rounded total.
    static func sum(_ a: ExactDecimal, _ b: ExactDecimal, client: String) throws -> ExactDecimal {
        do { return try a.adding(b) } catch {
            throw RPCError(.failedPrecondition, "the portfolio of \(client) adds up beyond the range of exact decimals (±10^18)")
        }
    }

    /// The same from open positions' summaries already in report order (a client book's).
    static func portfolio(client: String, inReportOrder positions: [PositionSummary], prices: [String: ExactDecimal] = [:],
                          offset: Int = 0, limit: Int = .max) throws -> Ultracore_Holdings_V1_GetPortfolioValueResponse {
        var response = Ultracore_Holdings_V1_GetPortfolioValueResponse()
        response.clientId = client
        var total = ExactDecimal.zero, basis = ExactDecimal.zero, unrealized = ExactDecimal.zero
        func sum(_ a: ExactDecimal, _ b: ExactDecimal) throws -> ExactDecimal { try Self.sum(a, b, client: client) }
        var values: [ExactDecimal] = []
        values.reserveCapacity(positions.count)
        let priced = !prices.isEmpty
        for position in positions {
            basis = try sum(basis, position.costBasis)
            let value = try position.marketValue(at: priced ? prices[position.ticker] : nil)
            total = try sum(total, value)
            unrealized = try sum(unrealized, try value.subtracting(position.costBasis))
            values.append(value)
        }
        response.positionCount = Int32(clamping: positions.count)
        let first = min(max(0, offset), positions.count)
        let last = first + min(max(0, limit), positions.count - first)
        response.positions.reserveCapacity(last - first)
        for slot in first..<last {
            let position = positions[slot]
            let value = values[slot]
            if prices[position.ticker] == nil && position.lastPrice == nil { response.unpricedPositionIds.append(position.positionId) }
            var weight = Ultracore_Holdings_V1_PositionWeight()
            weight.positionId = position.positionId
            weight.ticker = position.ticker
            weight.marketValue = value.description
            weight.costBasis = position.costBasis.description
            weight.unrealizedGain = try value.subtracting(position.costBasis).description
            weight.weight = total.isZero ? "0" : try value.divided(by: total).description
            response.positions.append(weight)
        }
        response.marketValue = total.description
        response.costBasis = basis.description
        response.unrealizedGain = unrealized.description
        return response
    }
}
