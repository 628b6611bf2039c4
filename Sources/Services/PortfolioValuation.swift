import Domain
import HoldingsProto
import RPCCore
import Store

/// The valuation of a portfolio, shared by the portfolio reads and rebalancing.
enum PortfolioValuation {
    /// A client's portfolio: open `positions` valued at `prices` (per ticker) or their last
    /// price; a position never priced counts at cost (and is listed in unpriced_position_ids).
    /// Positions ordered by ticker.
    static func portfolio(client: String, positions: [PositionState], prices: [String: ExactDecimal] = [:]) throws -> Ultracore_Holdings_V1_GetPortfolioValueResponse {
        var response = Ultracore_Holdings_V1_GetPortfolioValueResponse()
        response.clientId = client
        var total = ExactDecimal.zero, basis = ExactDecimal.zero, unrealized = ExactDecimal.zero
        var valued: [(PositionState, ExactDecimal)] = []
        func sum(_ a: ExactDecimal, _ b: ExactDecimal) throws -> ExactDecimal {
            do { return try a.adding(b) } catch {
                throw RPCError(.failedPrecondition, "the portfolio of \(client) adds up beyond the range of exact decimals (±10^18)")
            }
        }
        for position in positions.sorted(by: PositionState.inReportOrder) where position.status == .open {
            basis = try sum(basis, position.costBasis)
            if prices[position.ticker] == nil && position.lastPrice == nil { response.unpricedPositionIds.append(position.positionId) }
            let value = try position.marketValue(at: prices[position.ticker])
            total = try sum(total, value)
            unrealized = try sum(unrealized, try value.subtracting(position.costBasis))
            valued.append((position, value))
        }
        for (position, value) in valued {
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
