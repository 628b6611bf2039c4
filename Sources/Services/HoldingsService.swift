import Domain
import Foundation
import HoldingsProto
import RPCCore
import Security
import Store

/// HoldingsService: positions from the write model (always current), the audit trail
/// from Postgres (after the projector caught up with the caller's acknowledged writes).
public struct HoldingsService: Ultracore_Holdings_V1_HoldingsService.ServiceProtocol {
    let model: WriteModel
    /// How long a read that needs Postgres waits for the projector to store the writes
    /// acknowledged before it started.
    let readYourWritesTimeout: Duration

    public init(model: WriteModel, readYourWritesTimeout: Duration = .seconds(5)) {
        self.model = model
        self.readYourWritesTimeout = readYourWritesTimeout
    }

    public func openPosition(request: Ultracore_Holdings_V1_OpenPositionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_OpenPositionResponse {
        try await ServiceError.mapping {
            try context.authorize(.write, client: try Validation.identifier(request.clientId, field: "client_id"), requestId: request.requestId)
            let now = Instant.now
            let command = try OpenPositionCommand(request, now: now)
            let maxLots = try Validation.maxLots(request.maxLots)
            var keyed = request
            keyed.maxLots = 0
            let write = try await model.open(command, requestId: try RequestParsing.requestId(request.requestId),
                                             fingerprint: RequestFingerprint.of(keyed), now: now)
            var response = Ultracore_Holdings_V1_OpenPositionResponse()
            response.position = write.position.proto(now: now, maxLots: maxLots)
            let bought: Ultracore_Holdings_V1_Lot?
            switch write.event.payload {
            case .positionOpened(let opened)?: bought = opened.lot
            case .lotAdded(let added)?: bought = added.lot
            default: bought = nil
            }
            // The bought lot as the position holds it now (usually its last: search from the end).
            response.lot = write.position.lots.last { $0.lotId == bought?.lotId }
                .map { $0.proto(now: now, lastPrice: write.position.lastPrice) } ?? bought
            response.created = write.event.eventType == .positionOpened
            response.eventId = write.event.eventId
            return response
        }
    }

    public func getPosition(request: Ultracore_Holdings_V1_GetPositionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetPositionResponse {
        try await ServiceError.mapping {
            let position = try model.authorizedPosition(request.positionId, .read, context)
            let maxLots = try Validation.maxLots(request.maxLots)
            guard request.lotsOffset >= 0, Int(request.lotsOffset) <= position.lots.count else {
                throw DomainError.invalidArgument(field: "lots_offset", reason: "must be 0 to the position's lot_count (\(position.lots.count))")
            }
            var response = Ultracore_Holdings_V1_GetPositionResponse()
            response.position = position.proto(now: .now, maxLots: maxLots, lotsOffset: Int(request.lotsOffset))
            return response
        }
    }

    public func listPositions(request: Ultracore_Holdings_V1_ListPositionsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListPositionsResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let limit = try Paging.size(request.pageSize)
            let maxLots = try Validation.maxLots(request.maxLots)
            var after: (Instant, String)?
            if !request.pageToken.isEmpty {
                guard let token = Paging.decode(request.pageToken, scope: "positions:\(client):\(request.includeClosed)"),
                      token.count == 2, let micros = Int64(token[0]) else {
                    throw DomainError.invalidArgument(field: "page_token", reason: "is not a token of this listing")
                }
                after = (Instant(microseconds: micros), token[1])
            }
            let (page, more) = model.positions(client: client, includeClosed: request.includeClosed, after: after, limit: limit)
            let now = Instant.now
            var response = Ultracore_Holdings_V1_ListPositionsResponse()
            response.positions = page.map { $0.proto(now: now, maxLots: maxLots) }
            if more, let last = page.last {
                response.nextPageToken = Paging.encode(["\(last.openedAt.microseconds)", last.positionId],
                                                       scope: "positions:\(client):\(request.includeClosed)")
            }
            return response
        }
    }

    public func listEvents(request: Ultracore_Holdings_V1_ListEventsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListEventsResponse {
        try await ServiceError.mapping {
            if request.clientId.isEmpty && request.positionId.isEmpty {
                throw DomainError.invalidArgument(field: "client_id", reason: "or position_id is required")
            }
            if !request.clientId.isEmpty {
                try context.authorize(.read, client: try Validation.identifier(request.clientId, field: "client_id"))
            }
            // A position the caller may not read lists nothing, exactly like one that does not exist.
            let hidden = request.clientId.isEmpty && !model.mayRead(position: request.positionId, context)
            let limit = try Paging.size(request.pageSize)
            let named = try Self.eventTypeNames(request.eventTypes)
            let types = named.isEmpty ? Self.holdingsEventTypes.compactMap(\.protoName) : named
            let scope = "events:\(request.clientId):\(request.positionId):\(named.joined(separator: ","))"
            var after = ReadModels.trailStart
            if !request.pageToken.isEmpty {
                guard let token = Paging.decode(request.pageToken, scope: scope), token.count == 3,
                      Int64(token[0]) != nil, Int64(token[2]) != nil else {
                    throw DomainError.invalidArgument(field: "page_token", reason: "is not a token of this listing")
                }
                after = token
            }
            if hidden { return Ultracore_Holdings_V1_ListEventsResponse() }
            try await auditTrailReady(context)
            let clientId = request.clientId, positionId = request.positionId, cursor = after
            let page = try await model.pool.withConnection { connection in
                try ReadModels.trail(client: clientId, position: positionId, types: types, after: cursor, limit: limit + 1, on: connection)
            }
            var response = Ultracore_Holdings_V1_ListEventsResponse()
            response.events = page.prefix(limit).map(\.event)
            if page.count > limit, let last = page.prefix(limit).last {
                response.nextPageToken = Paging.encode(last.cursor, scope: scope)
            }
            return response
        }
    }

    /// Read your writes: waits until every write acknowledged so far is in Postgres, at most
    /// `readYourWritesTimeout` and never past the call's deadline; UNAVAILABLE otherwise.
    private func auditTrailReady(_ context: ServerContext) async throws {
        try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
    }

    /// The names of requested event types; INVALID_ARGUMENT for unknown ones.
    /// What an empty event_types means: every type but the monitoring agent's (AGENT_ALERT,
    /// ALERT_ACKNOWLEDGED), which are listed only when asked for by name.
    static let holdingsEventTypes = Ultracore_Holdings_V1_EventType.allCases.filter {
        ![.unspecified, .agentAlert, .alertAcknowledged].contains($0)
    }

    static func eventTypeNames(_ types: [Ultracore_Holdings_V1_EventType]) throws(DomainError) -> [String] {
        try types.map { type throws(DomainError) in
            guard let name = type.protoName, type != .unspecified else {
                throw .invalidArgument(field: "event_types", reason: "holds an unknown event type \(type.rawValue)")
            }
            return name
        }
    }

    // MARK: Not in this slice yet

    private func notYet(_ method: String) -> RPCError {
        RPCError(.unimplemented, "ultracore.holdings.v1.HoldingsService/\(method) is not implemented yet")
    }

    public func closePosition(request: Ultracore_Holdings_V1_ClosePositionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ClosePositionResponse {
        try await ServiceError.mapping {
            _ = try model.authorizedPosition(request.positionId, .write, context, requestId: request.requestId)
            let now = Instant.now
            let command = try SellCommand(request, now: now)
            let maxLots = try Validation.maxLots(request.maxLots)
            var keyed = request
            keyed.maxLots = 0
            let write = try await model.close(command, positionId: request.positionId, requestId: try RequestParsing.requestId(request.requestId),
                                              fingerprint: RequestFingerprint.of(keyed), now: now)
            var response = Ultracore_Holdings_V1_ClosePositionResponse()
            response.position = write.position.proto(now: now, maxLots: maxLots)
            response.realized = WriteModel.realized(of: write.event)
            response.gains = Gains.summary(realized: response.realized)
            response.eventId = write.event.eventId
            return response
        }
    }

    public func updatePositionValue(request: Ultracore_Holdings_V1_UpdatePositionValueRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_UpdatePositionValueResponse {
        try await ServiceError.mapping {
            _ = try model.authorizedPosition(request.positionId, .write, context, requestId: request.requestId)
            let now = Instant.now
            let price = try Validation.price(request.price, field: "price")
            let pricedAt = try Validation.tradeTime(request.pricedAt, now: now, field: "priced_at")
            let maxLots = try Validation.maxLots(request.maxLots)
            var keyed = request
            keyed.maxLots = 0
            let write = try await model.value(positionId: request.positionId, price: price, pricedAt: pricedAt,
                                              requestId: try RequestParsing.requestId(request.requestId),
                                              fingerprint: RequestFingerprint.of(keyed), now: now)
            var response = Ultracore_Holdings_V1_UpdatePositionValueResponse()
            response.position = write.position.proto(now: now, maxLots: maxLots)
            response.eventId = write.event.eventId
            return response
        }
    }

    public func publishPrices(request: Ultracore_Holdings_V1_PublishPricesRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_PublishPricesResponse {
        try await ServiceError.mapping {
            try context.requireScope(Principal.pricesPublishScope, requestId: request.requestId)
            let now = Instant.now
            guard !request.prices.isEmpty, request.prices.count <= 10_000 else {
                throw DomainError.invalidArgument(field: "prices", reason: "must hold 1 to 10,000 quotes, not \(request.prices.count)")
            }
            var quotes: [(ticker: String, price: ExactDecimal, at: Instant)] = []
            var seen = Set<String>()
            for (index, quote) in request.prices.enumerated() {
                let ticker: String
                do { ticker = try Validation.ticker(quote.ticker) } catch {
                    throw DomainError.invalidArgument(field: "prices[\(index)].ticker", reason: "must be 1–12 characters of A–Z, 0–9, '.', '-'")
                }
                guard seen.insert(ticker).inserted else {
                    throw DomainError.invalidArgument(field: "prices[\(index)].ticker", reason: "\(ticker) is quoted twice")
                }
                let price = try Validation.price(quote.price, field: "prices[\(index)].price")
                let at = try Validation.tradeTime(quote.pricedAt, now: now, field: "prices[\(index)].priced_at")
                quotes.append((ticker, price, at))
            }
            let batch = try await model.publish(quotes, requestId: try RequestParsing.requestId(request.requestId),
                                                fingerprint: RequestFingerprint.of(request), now: now)
            var response = Ultracore_Holdings_V1_PublishPricesResponse()
            response.positionsRevalued = Int32(batch.revalued)
            response.unheldTickers = batch.unheld
            return response
        }
    }

    public func reconstructPosition(request: Ultracore_Holdings_V1_ReconstructPositionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ReconstructPositionResponse {
        try await ServiceError.mapping {
            guard !request.positionId.isEmpty else { throw DomainError.invalidArgument(field: "position_id", reason: "is required") }
            guard request.asOfVersion >= 0 else { throw DomainError.invalidArgument(field: "as_of_version", reason: "must not be negative") }
            let maxLots = try Validation.maxLots(request.maxLots)
            let maxEvents = try Validation.limit(request.maxEvents, fallback: 1_000, maximum: 10_000, field: "max_events")
            let limit = try request.asOfTime.map { time throws(DomainError) in try Validation.instant(time, field: "as_of_time") }
            _ = try model.authorizedPosition(request.positionId, .read, context)
            try await auditTrailReady(context)
            let positionId = request.positionId
            let version = request.asOfVersion == 0 ? nil : request.asOfVersion
            let events = try await model.pool.withConnection { try ReadModels.events(aggregate: positionId, upTo: version, on: $0) }
                .filter { event in limit.map { (event.occurredAt.flatMap(Instant.init) ?? $0) <= $0 } ?? true }
            guard let first = events.first else {
                throw RPCError(.notFound, "position \(positionId) has no event at or before the requested version or time")
            }
            var position = try PositionState.opened(by: first)
            for event in events.dropFirst() { try position.apply(event) }
            var response = Ultracore_Holdings_V1_ReconstructPositionResponse()
            response.position = position.proto(now: limit ?? .now, maxLots: maxLots)
            response.events = Array(events.suffix(maxEvents))
            response.eventCount = Int32(clamping: events.count)
            return response
        }
    }

    public func getPortfolioValue(request: Ultracore_Holdings_V1_GetPortfolioValueRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetPortfolioValueResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let limit = try Validation.limit(request.maxPositions, fallback: 1_000, maximum: 100_000, field: "max_positions")
            guard request.positionsOffset >= 0 else {
                throw DomainError.invalidArgument(field: "positions_offset", reason: "must not be negative")
            }
            return try PortfolioValuation.portfolio(client: client, inReportOrder: model.openSummaries(of: client),
                                                    offset: Int(request.positionsOffset), limit: limit)
        }
    }

    /// The monitoring agent: drift against targets, concentration, anomalous valuations
    /// (the valuation history comes from the audit trail) and portfolio concentration risk.
    public func monitorPortfolio(request: Ultracore_Holdings_V1_MonitorPortfolioRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_MonitorPortfolioResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            let monitor = try PortfolioMonitor(request)
            let positions = model.openSummaries(of: client)
            try await auditTrailReady(context)
            let prices = try await model.pool.withConnection { try ReadModels.valuedPrices(client: client, on: $0) }
            let history = prices.mapValues { $0.compactMap(Double.init) }
            var response = Ultracore_Holdings_V1_MonitorPortfolioResponse()
            response.alerts = try monitor.assess(open: positions, history: history)
            response.assessedAt = Instant.now.timestamp
            return response
        }
    }

    public func applyCorporateAction(request: Ultracore_Holdings_V1_ApplyCorporateActionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ApplyCorporateActionResponse {
        try await ServiceError.mapping {
            try context.requireScope(Principal.corporateActionsScope, requestId: request.requestId)
            let now = Instant.now
            let action = try CorporateAction(request, now: now)
            let (actionId, results) = try await model.apply(action, requestId: try RequestParsing.requestId(request.requestId),
                                                            fingerprint: RequestFingerprint.of(request), now: now)
            var response = Ultracore_Holdings_V1_ApplyCorporateActionResponse()
            response.actionId = actionId
            response.results = results
            return response
        }
    }

    /// Live events (optionally after the whole recorded history), filtered by client and types.
    /// A subscriber more than the broadcaster's capacity behind gets RESOURCE_EXHAUSTED.
    public func watchEvents(request: Ultracore_Holdings_V1_WatchEventsRequest, response: ResponseWriter<Ultracore_Holdings_V1_WatchEventsResponse>, context: ServerContext) async throws {
        try await ServiceError.mapping {
            let client = request.clientId
            if !client.isEmpty { try context.authorize(.read, client: try Validation.identifier(client, field: "client_id")) }
            let named = try Self.eventTypeNames(request.eventTypes)
            let typeNames = named.isEmpty ? Self.holdingsEventTypes.compactMap(\.protoName) : named
            let wanted = Set((request.eventTypes.isEmpty ? Self.holdingsEventTypes : request.eventTypes).map(\.rawValue))
            // Without a client id the caller sees the events of every client it may read.
            let everyClient = context.principal?.mayAll(.read) ?? false
            let visible: @Sendable (String) -> Bool = { eventClient in
                client.isEmpty ? (everyClient || context.may(.read, client: eventClient)) : eventClient == client
            }
            // The replay asks Postgres for those clients only (and still filters each event).
            let among: [String]? = client.isEmpty && !everyClient ? (context.principal?.namedClients(.read)).map { Array($0) } ?? [] : nil
            let broadcaster = model.broadcaster
            let subscription = broadcaster.subscribe { event in
                visible(event.clientId) && (wanted.isEmpty || wanted.contains(event.eventType.rawValue))
            }
            defer { broadcaster.unsubscribe(subscription) }
            var replayed = Set<String>()
            if request.replayFromStart {
                try await auditTrailReady(context)
                var cursor = ReadModels.trailStart
                while true {
                    let after = cursor
                    let page = try await model.pool.withConnection { connection in
                        try ReadModels.trail(client: client, position: "", types: typeNames, after: after, limit: 1000,
                                             amongClients: among, on: connection)
                    }
                    for (event, _) in page where visible(event.clientId) {
                        replayed.insert(event.eventId)
                        var message = Ultracore_Holdings_V1_WatchEventsResponse()
                        message.event = event
                        try await response.write(message)
                    }
                    guard page.count == 1000, let last = page.last else { break }
                    cursor = last.cursor
                }
            }
            for await event in subscription.events {
                if replayed.contains(event.eventId) { continue }
                var message = Ultracore_Holdings_V1_WatchEventsResponse()
                message.event = event
                try await response.write(message)
            }
            if subscription.overflowed {
                throw RPCError(.resourceExhausted, "the subscriber fell more than \(broadcaster.capacity) events behind; resubscribe")
            }
        }
    }
}

/// page_size and page_token rules shared by every listing.
enum Paging {
    /// 0 means 100; 1–1000 accepted.
    static func size(_ pageSize: Int32) throws(DomainError) -> Int {
        if pageSize == 0 { return 100 }
        guard pageSize > 0, pageSize <= 1000 else {
            throw .invalidArgument(field: "page_size", reason: "must be between 0 and 1000, not \(pageSize)")
        }
        return Int(pageSize)
    }

    /// An opaque token: base64url of "scope\u{1}field\u{1}field…". A token is valid only
    /// for the listing (scope) that issued it.
    static func encode(_ fields: [String], scope: String) -> String {
        Data(([scope] + fields).joined(separator: "\u{1}").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ token: String, scope: String) -> [String]? {
        guard token.utf8.count <= 2048 else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\u{1}", omittingEmptySubsequences: false).map(String.init)
        guard parts.first == scope else { return nil }
        return Array(parts.dropFirst())
    }
}
