import Domain
import HoldingsProto
import RPCCore
import Security
import Store

/// CostBasisService over the write model: lots, sales and unrealized gains.
public struct CostBasisService: Ultracore_Holdings_V1_CostBasisService.ServiceProtocol {
    let model: WriteModel

    public init(model: WriteModel) {
        self.model = model
    }

    public func sellLots(request: Ultracore_Holdings_V1_SellLotsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_SellLotsResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            let now = Instant.now
            let command = try SellCommand(request, now: now)
            let maxLots = try Validation.maxLots(request.maxLots)
            var keyed = request
            keyed.maxLots = 0
            let write = try await model.sell(command, client: request.clientId, ticker: request.ticker, dryRun: request.dryRun,
                                             requestId: try RequestParsing.requestId(request.requestId),
                                             fingerprint: RequestFingerprint.of(keyed), now: now)
            let realized = WriteModel.realized(of: write.event)
            var response = Ultracore_Holdings_V1_SellLotsResponse()
            response.realized = realized
            response.dryRun = request.dryRun
            response.position = write.position.proto(now: now, maxLots: maxLots)
            response.eventId = request.dryRun ? "" : write.event.eventId
            var proceeds = ExactDecimal.zero, basis = ExactDecimal.zero
            for lot in realized {
                proceeds = (try? proceeds.adding(ExactDecimal(lot.proceeds) ?? .zero)) ?? proceeds
                basis = (try? basis.adding(ExactDecimal(lot.costBasis) ?? .zero)) ?? basis
            }
            response.totalProceeds = proceeds.description
            response.totalCostBasis = basis.description
            response.gains = Gains.summary(realized: realized)
            return response
        }
    }

    public func getCostBasisSummary(request: Ultracore_Holdings_V1_GetCostBasisSummaryRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetCostBasisSummaryResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let ticker = try Validation.ticker(request.ticker)
            let asOf = try Validation.tradeTime(request.asOf, now: .now, field: "as_of")
            guard let position = model.openPosition(client: client, ticker: ticker) else {
                throw RPCError(.notFound, "client \(client) holds no open \(ticker) position")
            }
            // Every lot: the summary is about them (lot_count of Position does not apply here).
            let rendered = position.proto(now: asOf, maxLots: .max)
            var response = Ultracore_Holdings_V1_GetCostBasisSummaryResponse()
            response.positionId = position.positionId
            response.lots = rendered.lots
            response.totalQuantity = rendered.quantity
            response.totalCostBasis = rendered.costBasis
            response.averageCost = rendered.averageCost
            response.marketValue = rendered.marketValue
            response.unrealized = Self.unrealized(position, at: asOf)
            return response
        }
    }

    public func getUnrealizedGainLoss(request: Ultracore_Holdings_V1_GetUnrealizedGainLossRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetUnrealizedGainLossResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let ticker = request.ticker.isEmpty ? nil : try Validation.ticker(request.ticker)
            let asOf = try Validation.tradeTime(request.asOf, now: .now, field: "as_of")
            var response = Ultracore_Holdings_V1_GetUnrealizedGainLossResponse()
            var parts: [(gain: ExactDecimal, term: HoldingPeriod)] = []
            let positions = model.positions(client: client, includeClosed: false, after: nil, limit: Int.max).page
                .sorted(by: PositionState.inReportOrder)
            // Lots by ticker, then acquisition (each position's lots are in acquisition order).
            for position in positions where ticker == nil || position.ticker == ticker {
                guard let price = position.lastPrice else {
                    response.unpricedPositionIds.append(position.positionId)
                    continue
                }
                for lot in position.lots {
                    var entry = Ultracore_Holdings_V1_LotGainLoss()
                    entry.positionId = position.positionId
                    entry.ticker = position.ticker
                    entry.lot = lot.proto(now: asOf, lastPrice: price)
                    response.lots.append(entry)
                    if let value = try? lot.quantity.multiplied(by: price, scale: 18), let gain = try? value.subtracting(lot.costBasis) {
                        parts.append((gain, HoldingPeriod.term(acquired: lot.holdingStart, at: asOf)))
                    }
                }
            }
            response.totals = Gains.summary(parts)
            return response
        }
    }

    static func unrealized(_ position: PositionState, at: Instant) -> Ultracore_Holdings_V1_GainSummary {
        guard let price = position.lastPrice else { return Ultracore_Holdings_V1_GainSummary() }
        return Gains.summary(position.lots.compactMap { lot in
            guard let value = try? lot.quantity.multiplied(by: price, scale: 18), let gain = try? value.subtracting(lot.costBasis) else { return nil }
            return (gain, HoldingPeriod.term(acquired: lot.holdingStart, at: at))
        })
    }

    /// Open lots under water at the last price, largest loss first, with the tax they would
    /// save and a wash-sale warning when the ticker was bought in the 30 days before `as_of`
    /// (an open lot acquired then: selling at a loss would be a wash sale).
    public func getTaxLossHarvestCandidates(request: Ultracore_Holdings_V1_GetTaxLossHarvestCandidatesRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetTaxLossHarvestCandidatesResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let ticker = request.ticker.isEmpty ? nil : try Validation.ticker(request.ticker)
            let minimum = request.minLoss.isEmpty ? ExactDecimal.zero : try Validation.positive(request.minLoss, field: "min_loss")
            func rate(_ text: String, _ fallback: String, _ field: String) throws -> ExactDecimal {
                let value = try Validation.nonNegative(text.isEmpty ? fallback : text, field: field)
                guard value <= ExactDecimal(1) else { throw DomainError.invalidArgument(field: field, reason: "must be a fraction of 1") }
                return value
            }
            let shortRate = try rate(request.shortTermTaxRate, "0.37", "short_term_tax_rate")
            let longRate = try rate(request.longTermTaxRate, "0.20", "long_term_tax_rate")
            let asOf = try Validation.tradeTime(request.asOf, now: .now, field: "as_of")
            var candidates: [(loss: ExactDecimal, candidate: Ultracore_Holdings_V1_HarvestCandidate)] = []
            var totalLoss = ExactDecimal.zero, totalBenefit = ExactDecimal.zero
            for position in model.positions(client: client, includeClosed: false, after: nil, limit: Int.max).page
            where ticker == nil || position.ticker == ticker {
                guard let price = position.lastPrice else { continue }
                for lot in position.lots where lot.acquiredAt <= asOf {
                    let value = try lot.quantity.multiplied(by: price, scale: 18)
                    let loss = try lot.costBasis.subtracting(value)
                    guard loss.isPositive, loss >= minimum else { continue }
                    let term = HoldingPeriod.term(acquired: lot.holdingStart, at: asOf)
                    let benefit = try loss.multiplied(by: term == .long ? longRate : shortRate)
                    var candidate = Ultracore_Holdings_V1_HarvestCandidate()
                    candidate.positionId = position.positionId
                    candidate.ticker = position.ticker
                    candidate.lot = lot.proto(now: asOf, lastPrice: price)
                    candidate.unrealizedLoss = loss.description
                    candidate.term = term == .long ? .longTerm : .shortTerm
                    candidate.estimatedTaxBenefit = benefit.description
                    if let recent = position.lots.first(where: { $0.lotId != lot.lotId && $0.acquiredAt <= asOf && WashSales.inWindow($0.acquiredAt, asOf) }) {
                        candidate.washSaleRisk = true
                        candidate.washSaleReason = "lot \(recent.lotId) of \(position.ticker) was acquired within the 30 days before; a loss sale now would be a wash sale"
                    }
                    totalLoss = try totalLoss.adding(loss)
                    totalBenefit = try totalBenefit.adding(benefit)
                    candidates.append((loss, candidate))
                }
            }
            var response = Ultracore_Holdings_V1_GetTaxLossHarvestCandidatesResponse()
            response.candidates = candidates.sorted { $0.loss > $1.loss }.map(\.candidate)
            response.totalHarvestableLoss = totalLoss.description
            response.totalEstimatedBenefit = totalBenefit.description
            return response
        }
    }

    /// Sales of a client in [start_time, end_time), from the audit trail (after the
    /// projector stored the writes acknowledged before the call).
    public func getRealizedGains(request: Ultracore_Holdings_V1_GetRealizedGainsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetRealizedGainsResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let ticker = request.ticker.isEmpty ? "" : try Validation.ticker(request.ticker)
            let start = try request.startTime.map { time throws(DomainError) in try Validation.instant(time, field: "start_time") }
            let end = try request.endTime.map { time throws(DomainError) in try Validation.instant(time, field: "end_time") }
            if let start, let end, end < start {
                throw DomainError.invalidArgument(field: "end_time", reason: "is before start_time")
            }
            try await model.waitForAuditTrail()
            let (events, later) = try await model.pool.withConnection { connection in
                (try ReadModels.sales(client: client, on: connection), try ReadModels.laterDisallowed(client: client, on: connection))
            }
            var disallowedTotal = ExactDecimal.zero
            var response = Ultracore_Holdings_V1_GetRealizedGainsResponse()
            var all: [(gain: ExactDecimal, term: HoldingPeriod)] = []
            for event in events {
                var sale = Ultracore_Holdings_V1_RealizedSale()
                sale.eventId = event.eventId
                sale.positionId = event.aggregateId
                let soldAt: Google_Protobuf_Timestamp?
                switch event.payload {
                case .lotsSold(let sold)?:
                    (sale.ticker, sale.method, sale.lots, soldAt) = (sold.ticker, sold.method, sold.realized, sold.soldAt)
                case .positionClosed(let closed)?:
                    (sale.ticker, sale.method, sale.lots, soldAt) = (closed.ticker, closed.method, closed.realized, closed.closedAt)
                case .tradeExecuted(let trade)? where trade.side == .sell:
                    (sale.ticker, sale.method, sale.lots, soldAt) = (trade.ticker, .specificId, trade.realized, event.occurredAt)
                case .corporateActionApplied(let applied)? where !applied.cashInLieuRealized.isEmpty:
                    // Cash in lieu of a fractional share is a sale (IRS Pub. 550).
                    (sale.ticker, sale.method, sale.lots, soldAt) = (applied.ticker, .unspecified, applied.cashInLieuRealized, applied.effectiveAt)
                    sale.cashInLieu = true
                default: continue
                }
                guard let when = soldAt.flatMap(Instant.init) else { continue }
                if !ticker.isEmpty && sale.ticker != ticker { continue }
                if let start, when < start { continue }
                if let end, when >= end { continue }
                sale.soldAt = when.timestamp
                // The sale's own wash-sale matches are in its parts; later buys' matches add to them.
                for index in sale.lots.indices {
                    var disallowed = ExactDecimal(sale.lots[index].washSaleDisallowed) ?? .zero
                    if let more = later["\(event.eventId)/\(index)"] { disallowed = try disallowed.adding(more) }
                    sale.lots[index].washSaleDisallowed = disallowed.isZero ? "" : disallowed.description
                    disallowedTotal = try disallowedTotal.adding(disallowed)
                }
                sale.gains = Gains.summary(realized: sale.lots)
                all += Gains.parts(of: sale.lots)
                response.sales.append(sale)
            }
            response.sales.sort { ($0.soldAt?.seconds ?? 0, $0.soldAt?.nanos ?? 0) < ($1.soldAt?.seconds ?? 0, $1.soldAt?.nanos ?? 0) }
            response.totals = Gains.summary(all)
            response.washSaleDisallowed = disallowedTotal.description
            return response
        }
    }
}
