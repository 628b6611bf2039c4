import Domain
import HoldingsProto
import RPCCore
import Store

/// The valuation of a portfolio, shared by the portfolio reads and rebalancing.
enum PortfolioValuation {
    /// A client's portfolio: open `positions` valued at `prices` (per ticker) or their last
    /// price; a position never priced counts at cost (and is listed in unpriced_position_ids).
    /// Totals and weights cover every open position; the answer lists, in ticker order, at most
    /// `limit` of them from `offset` (positions already `inReportOrder` are not sorted; others
    /// are sorted as indexes, and only the page answered is built).
    static func portfolio(client: String, positions: [PositionState], prices: [String: ExactDecimal] = [:], offset: Int = 0,
                          limit: Int = .max, inReportOrder: Bool = false) throws -> Ultracore_Holdings_V1_GetPortfolioValueResponse {
        var response = Ultracore_Holdings_V1_GetPortfolioValueResponse()
        response.clientId = client
        var total = ExactDecimal.zero, basis = ExactDecimal.zero, unrealized = ExactDecimal.zero
        func sum(_ a: ExactDecimal, _ b: ExactDecimal) throws -> ExactDecimal {
            do { return try a.adding(b) } catch {
                throw RPCError(.failedPrecondition, "the portfolio of \(client) adds up beyond the range of exact decimals (±10^18)")
            }
        }
        var open: [Int] = []
        var values: [ExactDecimal] = []
        open.reserveCapacity(positions.count)
        values.reserveCapacity(positions.count)
        for (index, position) in positions.enumerated() where position.status == .open {
            basis = try sum(basis, position.costBasis)
            let value = try position.marketValue(at: prices[position.ticker])
            total = try sum(total, value)
            unrealized = try sum(unrealized, try value.subtracting(position.costBasis))
            open.append(index)
            values.append(value)
        }
        response.positionCount = Int32(clamping: open.count)
        var order = Array(open.indices)
        if !inReportOrder { order.sort { PositionState.inReportOrder(positions[open[$0]], positions[open[$1]]) } }
        let first = min(max(0, offset), order.count)
        let last = first + min(max(0, limit), order.count - first)
        response.positions.reserveCapacity(last - first)
        for slot in order[first..<last] {
            let position = positions[open[slot]]
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
