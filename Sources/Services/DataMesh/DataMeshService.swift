import Domain
import EventLog
import Foundation
import HoldingsProto
import RPCCore
import Security
import Store

/// DataMeshService: the quality, lineage, freshness, history and governance of the
/// holdings data (data_mesh.proto). Everything here reads the audit trail and the read
/// models; nothing is recorded.
public struct DataMeshService: Ultracore_Holdings_V1_DataMeshService.ServiceProtocol {
    let model: WriteModel
    let readYourWritesTimeout: Duration

    public init(model: WriteModel, readYourWritesTimeout: Duration = .seconds(5)) {
        self.model = model
        self.readYourWritesTimeout = readYourWritesTimeout
    }

    /// Exactly one of two id fields: INVALID_ARGUMENT naming both otherwise.
    static func exactlyOne(_ first: (String, String), _ second: (String, String)) throws(DomainError) {
        if first.1.isEmpty == second.1.isEmpty {
            throw .invalidArgument(field: "\(first.0), \(second.0)",
                                   reason: first.1.isEmpty ? "one of them is required" : "only one of them may be set")
        }
    }

    // MARK: GetDataQuality

    public func getDataQuality(request: Ultracore_Holdings_V1_GetDataQualityRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetDataQualityResponse {
        try await ServiceError.mapping {
            try Self.exactlyOne(("client_id", request.clientId), ("position_id", request.positionId))
            var filter = ReadModels.EventFilter(client: nil, aggregate: nil, types: nil, since: nil, until: nil)
            if !request.clientId.isEmpty {
                filter.client = try Validation.identifier(request.clientId, field: "client_id")
                try context.authorize(.read, client: request.clientId)
            } else {
                let position = try model.authorizedPosition(request.positionId, .read, context)
                filter.client = position.clientId
                filter.aggregate = position.positionId
            }
            if !request.dataProduct.isEmpty {
                guard let product = DataProducts.eventProducts.first(where: { $0.name == request.dataProduct }) else {
                    throw DomainError.invalidArgument(field: "data_product", reason: "must be empty or one of "
                        + DataProducts.eventProducts.map(\.name).joined(separator: ", "))
                }
                filter.types = product.types.compactMap(\.protoName)
            }
            filter.since = try request.since.map { time throws(DomainError) in try Validation.instant(time, field: "since") }
            filter.until = try request.until.map { time throws(DomainError) in try Validation.instant(time, field: "until") }
            if let since = filter.since, let until = filter.until, until <= since {
                throw DomainError.invalidArgument(field: "until", reason: "must be after since")
            }
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let query = filter
            let (types, failures, days, quarantined, failing) = try await model.pool.withConnection { db in
                let failures = try ReadModels.failuresByTypeAndRule(query, on: db)
                var failing: [String: [(event: Ultracore_Holdings_V1_Event, ingestedAt: Instant?)]] = [:]
                for rule in Set(failures.map(\.rule)) { failing[rule] = try ReadModels.failingEvents(query, rule: rule, limit: 5, on: db) }
                return (try ReadModels.qualityByType(query, on: db), failures, try ReadModels.qualityByDay(query, days: 366, on: db),
                        try ReadModels.quarantinedCount(client: query.aggregate == nil ? query.client : nil, aggregate: query.aggregate, on: db),
                        failing)
            }
            var examples: [String: String] = [:]
            for (rule, events) in failing {
                examples[rule] = events.map { item in
                    let assessment = DataQuality.assess(item.event, ingestedAt: item.ingestedAt ?? item.event.occurredAt.flatMap(Instant.init) ?? .now)
                    let why = assessment.details.first { $0.hasPrefix(rule + ":") }.map { String($0.dropFirst(rule.count + 2)) } ?? "failed"
                    return "\(item.event.eventId): \(why)"
                }.joined(separator: "; ")
            }
            return Self.qualityResponse(types: types, failures: failures, days: days, quarantined: quarantined, examples: examples)
        }
    }

    static func eventType(named name: String) -> Ultracore_Holdings_V1_EventType {
        Ultracore_Holdings_V1_EventType.allCases.first { $0.protoName == name } ?? .unspecified
    }

    static func qualityResponse(types: [ReadModels.TypeQuality], failures: [(type: String, rule: String, count: Int64)],
                                days: [(day: String, events: Int64, scoreSum: Int64, imperfect: Int64)], quarantined: Int64,
                                examples: [String: String]) -> Ultracore_Holdings_V1_GetDataQualityResponse {
        var response = Ultracore_Holdings_V1_GetDataQualityResponse()
        let total = types.reduce(Int64(0)) { $0 + $1.events }
        response.eventsExamined = total
        response.quarantined = quarantined
        let eventsByType = Dictionary(types.map { ($0.type, $0.events) }, uniquingKeysWith: +)
        var lost = 0.0
        for rule in DataQuality.rules {
            var item = Ultracore_Holdings_V1_QualityRule()
            item.name = rule.name
            item.description = rule.description
            item.weight = Int32(rule.weight)
            item.dimension = rule.dimension.rawValue
            item.critical = rule.critical
            item.checked = eventsByType.filter { DataQuality.applicable(to: eventType(named: $0.key)).contains(rule) }.values.reduce(0, +)
            var points = 0.0
            for failure in failures where failure.rule == rule.name {
                item.failed += failure.count
                let applicableWeight = DataQuality.applicableWeight(of: eventType(named: failure.type))
                if applicableWeight > 0 { points += Double(failure.count) * 100 * Double(rule.weight) / Double(applicableWeight) }
            }
            item.passed = item.failed == 0
            item.detail = examples[rule.name] ?? ""
            let perEvent = total > 0 ? points / Double(total) : 0
            item.pointsLost = (perEvent * 100).rounded() / 100
            lost += perEvent
            response.rules.append(item)
        }
        let exact = total > 0 ? 100 - lost : 100
        response.scoreExact = (exact * 100).rounded() / 100
        response.score = Int32((exact + 0.5).rounded(.down))
        func slice(_ name: String, events: Int64, scoreSum: Int64, imperfect: Int64) -> Ultracore_Holdings_V1_QualitySlice {
            var slice = Ultracore_Holdings_V1_QualitySlice()
            slice.name = name
            slice.events = events
            slice.imperfectEvents = imperfect
            slice.score = events > 0 ? Int32((scoreSum * 2 + events) / (2 * events)) : 100
            return slice
        }
        for product in DataProducts.eventProducts {
            let members = types.filter { product.types.compactMap(\.protoName).contains($0.type) }
            guard !members.isEmpty else { continue }
            response.products.append(slice(product.name, events: members.reduce(0) { $0 + $1.events },
                                           scoreSum: members.reduce(0) { $0 + $1.scoreSum }, imperfect: members.reduce(0) { $0 + $1.imperfect }))
        }
        response.days = days.map { slice($0.day, events: $0.events, scoreSum: $0.scoreSum, imperfect: $0.imperfect) }
        return response
    }

    // MARK: GetLineage

    public func getLineage(request: Ultracore_Holdings_V1_GetLineageRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetLineageResponse {
        try await ServiceError.mapping {
            try Self.exactlyOne(("event_id", request.eventId), ("position_id", request.positionId))
            let depth = request.depth == 0 ? 3 : Int(request.depth)
            guard (1...10).contains(depth) else {
                throw DomainError.invalidArgument(field: "depth", reason: "must be 0 (meaning 3) to 10, not \(request.depth)")
            }
            let maxNodes = try Validation.limit(request.maxNodes, fallback: 500, maximum: 5_000, field: "max_nodes")
            if !request.eventId.isEmpty {
                guard UUIDText.isValid(request.eventId) else {
                    throw DomainError.invalidArgument(field: "event_id", reason: "must be a UUID")
                }
            } else {
                _ = try model.authorizedPosition(request.positionId, .read, context)
            }
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let visible = { (row: ReadModels.LineageRow) -> Bool in
                row.event.clientId.isEmpty ? context.principal?.isAdmin == true : context.may(.read, client: row.event.clientId)
            }
            var start: [ReadModels.LineageRow]
            if !request.eventId.isEmpty {
                let id = request.eventId.lowercased()
                start = try await model.pool.withConnection { try ReadModels.lineageEvents(ids: [id], on: $0) }
                guard let first = start.first, visible(first) else {
                    if !start.isEmpty { context.audit.noteHidden() }
                    throw RPCError(.notFound, "event \(request.eventId) not found")
                }
                context.audit.noteClient(first.event.clientId)
            } else {
                let id = request.positionId
                start = try await model.pool.withConnection { try ReadModels.lineageEvents(aggregate: id, limit: maxNodes, on: $0) }
                    .filter(visible)
            }
            var nodes: [String: (row: ReadModels.LineageRow, distance: Int)] = [:]
            var order: [String] = []
            for row in start where nodes[row.event.eventId] == nil {
                nodes[row.event.eventId] = (row, 0)
                order.append(row.event.eventId)
            }
            var truncated = start.count >= maxNodes && request.eventId.isEmpty
            var frontier = start.map(\.event)
            var level = 1
            while level <= depth, !frontier.isEmpty, !truncated {
                // Known nodes come back too: ask for enough to fill the budget after them.
                let wanted = maxNodes + 1
                let found = try await model.pool.withConnection { [frontier] in
                    try ReadModels.lineageNeighbours(of: frontier, limit: wanted, on: $0)
                }
                if found.count >= wanted { truncated = true }
                var next: [Ultracore_Holdings_V1_Event] = []
                for row in found where nodes[row.event.eventId] == nil {
                    guard visible(row) else { continue }
                    guard nodes.count < maxNodes else {
                        truncated = true
                        break
                    }
                    nodes[row.event.eventId] = (row, level)
                    order.append(row.event.eventId)
                    next.append(row.event)
                }
                frontier = next
                level += 1
            }
            return Self.lineage(nodes: order.compactMap { nodes[$0] }, truncated: truncated)
        }
    }

    static func lineage(nodes: [(row: ReadModels.LineageRow, distance: Int)], truncated: Bool) -> Ultracore_Holdings_V1_GetLineageResponse {
        var response = Ultracore_Holdings_V1_GetLineageResponse()
        response.truncated = truncated
        let sorted = nodes.sorted { a, b in
            a.distance != b.distance ? a.distance < b.distance : logOrder(a.row.event) < logOrder(b.row.event)
        }
        for (row, distance) in sorted {
            let event = row.event
            var node = Ultracore_Holdings_V1_LineageNode()
            node.eventId = event.eventId
            node.eventType = event.eventType
            node.aggregateId = event.aggregateId
            node.aggregateVersion = event.aggregateVersion
            node.source = event.source
            node.occurredAt = event.occurredAt
            node.correlationId = event.correlationId
            node.causationId = event.causationId
            node.qualityScore = row.score
            node.distance = Int32(distance)
            node.clientId = event.clientId
            response.nodes.append(node)
            response.outputs += outputs(of: row)
        }
        response.edges = edges(among: sorted.map(\.row.event))
        return response
    }

    /// Events in the order they happened: occurred_at, then aggregate and version.
    static func logOrder(_ event: Ultracore_Holdings_V1_Event) -> (Instant, String, Int64) {
        (event.occurredAt.flatMap(Instant.init) ?? Instant(microseconds: 0), event.aggregateId, event.aggregateVersion)
    }

    /// Causation, next-version and same-correlation relations among `events`.
    static func edges(among events: [Ultracore_Holdings_V1_Event]) -> [Ultracore_Holdings_V1_LineageEdge] {
        var edges: [Ultracore_Holdings_V1_LineageEdge] = []
        var linked = Set<String>()
        func add(_ from: String, _ to: String, _ relation: String) {
            guard from != to, linked.insert(from + "\u{1}" + to + "\u{1}" + relation).inserted else { return }
            var edge = Ultracore_Holdings_V1_LineageEdge()
            edge.fromEventId = from
            edge.toEventId = to
            edge.relation = relation
            edges.append(edge)
        }
        let ids = Set(events.map(\.eventId))
        for event in events where ids.contains(event.causationId) { add(event.causationId, event.eventId, "causation") }
        let byAggregate = Dictionary(grouping: events, by: \.aggregateId)
        for aggregate in byAggregate.keys.sorted() {
            let versions = byAggregate[aggregate, default: []].sorted { $0.aggregateVersion < $1.aggregateVersion }
            for (earlier, later) in zip(versions, versions.dropFirst()) where later.aggregateVersion == earlier.aggregateVersion + 1 {
                add(earlier.eventId, later.eventId, "aggregate")
            }
        }
        let byCorrelation = Dictionary(grouping: events.filter { !$0.correlationId.isEmpty }, by: \.correlationId)
        for correlation in byCorrelation.keys.sorted() {
            let members = byCorrelation[correlation, default: []].sorted { logOrder($0) < logOrder($1) }
            guard let first = members.first else { continue }
            for member in members.dropFirst() where !ids.contains(member.causationId) { add(first.eventId, member.eventId, "correlation") }
        }
        return edges
    }

    /// The read-model rows and derived results an event fed.
    static func outputs(of row: ReadModels.LineageRow) -> [Ultracore_Holdings_V1_LineageOutput] {
        let event = row.event
        var outputs: [Ultracore_Holdings_V1_LineageOutput] = []
        func add(_ dataset: String, _ key: String, _ effect: String) {
            var output = Ultracore_Holdings_V1_LineageOutput()
            output.eventId = event.eventId
            output.dataset = dataset
            output.key = key
            output.effect = effect
            outputs.append(output)
        }
        let position = event.aggregateId
        func lots(_ lots: [Ultracore_Holdings_V1_Lot], _ effect: String) {
            for lot in lots { add("lots", "\(position)/\(lot.lotId)", "\(effect) \(lot.quantity) shares at basis \(lot.costBasis)") }
        }
        func sold(_ realized: [Ultracore_Holdings_V1_RealizedLot], total: String) {
            for part in realized { add("lots", "\(position)/\(part.lotId)", "sold \(part.quantity) shares") }
            add("realized_gains", event.eventId, "realized gain \(total) over \(realized.count) lots")
        }
        switch event.payload {
        case .positionOpened(let opened)?:
            add("positions", position, "opened with \(opened.lot?.quantity ?? "?") shares of \(opened.ticker) (version 1)")
            lots([opened.lot].compactMap { $0 } + opened.washSaleLots, "added lot of")
            add("valuation_history", "\(position)@\(event.eventId)", "valued at cost until priced")
        case .lotAdded(let added)?:
            add("positions", position, "version \(event.aggregateVersion): bought \(added.lot?.quantity ?? "?") shares")
            lots([added.lot].compactMap { $0 } + added.washSaleLots, "added lot of")
        case .lotsSold(let sale)?:
            add("positions", position, "version \(event.aggregateVersion): sold \(sale.quantity) shares at \(sale.price)")
            sold(sale.realized, total: sale.totalRealizedGain)
        case .positionClosed(let closed)?:
            add("positions", position, "version \(event.aggregateVersion): closed at \(closed.price)")
            sold(closed.realized, total: closed.totalRealizedGain)
            add("valuation_history", "\(position)@\(event.eventId)", "worth 0 from the close")
        case .positionValued(let valued)?:
            add("positions", position, "version \(event.aggregateVersion): last price \(valued.price)")
            add("valuation_history", "\(position)@\(event.eventId)", "market value \(valued.marketValue)")
        case .corporateActionApplied(let action)?:
            add("positions", position, "version \(event.aggregateVersion): corporate action \(action.actionId): \(action.quantityBefore) → \(action.quantityAfter) shares")
            lots(action.lotsAfter, "restated to")
            if let lot = action.reinvestedLot { lots([lot], "reinvested dividend lot of") }
            if !action.cashInLieuRealized.isEmpty { add("realized_gains", event.eventId, "cash in lieu gain \(action.cashInLieuGain)") }
        case .tradeExecuted(let trade)?:
            if row.runCompleted == true {
                add("positions", position, "version \(event.aggregateVersion): \(trade.side == .buy ? "bought" : "sold") \(trade.quantity) shares in run \(trade.rebalancingId)")
                if let lot = trade.lot { lots([lot], "added lot of") }
                if !trade.realized.isEmpty {
                    sold(trade.realized, total: trade.realized.compactMap { ExactDecimal($0.realizedGain) }
                        .reduce(ExactDecimal.zero) { (try? $0.adding($1)) ?? $0 }.description)
                }
            } else {
                add("positions", position, "none: run \(trade.rebalancingId) did not complete, so the trade is void")
            }
        case .rebalancingTriggered(let run)?:
            add("rebalancing_runs", run.rebalancingId, "triggered (\(run.reasons.count) reasons)")
        case .rebalancingCompleted(let run)?:
            add("rebalancing_runs", run.rebalancingId, "completed with \(run.tradeCount) trades")
        case .rebalancingAborted(let run)?:
            add("rebalancing_runs", run.rebalancingId, "aborted: its trades are void")
        case .rebalancingScheduled(let scheduled)?:
            add("rebalancing_schedules", scheduled.schedule?.scheduleId ?? position, "version \(event.aggregateVersion)")
        case .policyTrained(let policy)?:
            add("policies", policy.policyId, "stored")
        case .agentAlert?, .alertAcknowledged?:
            add("agent_alerts", position, event.eventType == .agentAlert ? "raised or cleared" : "acknowledged")
        case nil:
            break
        }
        return outputs
    }

    // MARK: ListMaterializedViews

    public func listMaterializedViews(request: Ultracore_Holdings_V1_ListMaterializedViewsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListMaterializedViewsResponse {
        try await ServiceError.mapping {
            let freshness = try await model.partitionFreshness()
            let counts = try await model.pool.withConnection { try ReadModels.rowCounts(DataProducts.views.map(\.name), on: $0) }
            var response = Ultracore_Holdings_V1_ListMaterializedViewsResponse()
            let now = Instant.now
            for view in DataProducts.views {
                let topics = Set(view.sources.map { model.topics.name(of: $0) })
                let partitions = freshness.partitions.filter { topics.contains($0.key.topic) }
                var item = Ultracore_Holdings_V1_MaterializedView()
                item.name = view.name
                item.description = view.description
                item.owner = view.owner
                item.sourceTopics = topics.sorted()
                let lastEvent = freshness.lastEvents[view.name]
                item.rowCount = counts[view.name] ?? 0
                if let last = lastEvent { item.lastAppliedAt = last.timestamp }
                item.lagEvents = partitions.values.reduce(0) { $0 + max(0, $1.high - $1.next) }
                let waiting = partitions.values.filter { $0.high > $0.next }
                let oldest = waiting.map { ($0.lastRecordAt ?? lastEvent ?? now).microseconds }.min()
                item.lagSeconds = oldest.map { Double(max(0, now.microseconds - $0)) / 1_000_000 } ?? 0
                response.views.append(item)
            }
            response.partitions = freshness.partitions.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }.map { key, value in
                var lag = Ultracore_Holdings_V1_PartitionLag()
                lag.topic = key.topic
                lag.partition = key.partition
                lag.highWatermark = value.high
                lag.projectedOffset = value.next
                return lag
            }
            return response
        }
    }

    // MARK: ListDataProducts

    public func listDataProducts(request: Ultracore_Holdings_V1_ListDataProductsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListDataProductsResponse {
        var response = Ultracore_Holdings_V1_ListDataProductsResponse()
        response.products = (DataProducts.views + DataProducts.topics(model.topics).sorted { $0.name < $1.name }).map { product in
            var item = Ultracore_Holdings_V1_DataProduct()
            item.name = product.name
            item.kind = product.kind.rawValue
            item.owner = product.owner
            item.description = product.description
            item.schemaVersion = product.schemaVersion
            item.classification = product.classification
            item.retention = product.retention
            item.eventTypes = product.eventTypes
            item.servedBy = product.servedBy
            return item
        }
        response.schemaEvolutionRules = DataProducts.evolutionRules
        return response
    }

    // MARK: GetPortfolioAsOf

    public func getPortfolioAsOf(request: Ultracore_Holdings_V1_GetPortfolioAsOfRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_GetPortfolioAsOfResponse {
        try await ServiceError.mapping {
            let client = try Validation.identifier(request.clientId, field: "client_id")
            try context.authorize(.read, client: client)
            guard let given = request.asOfTime else { throw DomainError.invalidArgument(field: "as_of_time", reason: "is required") }
            let time = try Validation.instant(given, field: "as_of_time")
            guard time <= .now else { throw DomainError.invalidArgument(field: "as_of_time", reason: "is in the future") }
            let limit = try Validation.limit(request.maxPositions, fallback: 1_000, maximum: 10_000, field: "max_positions")
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let events = try await model.pool.withConnection { try ReadModels.positionEvents(client: client, asOf: time, on: $0) }
            var positions: [PositionState] = []
            var current: PositionState?
            for event in events {
                if let position = current, position.positionId == event.aggregateId {
                    var next = position
                    try next.apply(event)
                    current = next
                } else {
                    if let done = current { positions.append(done) }
                    // A buy of a run not completed by then opened nothing yet.
                    current = RebalancingEvents.isVoid(event) ? nil : try PositionState.opened(by: event)
                }
            }
            if let done = current { positions.append(done) }
            var response = Ultracore_Holdings_V1_GetPortfolioAsOfResponse()
            response.eventsApplied = Int64(events.count)
            var value = ExactDecimal.zero, basis = ExactDecimal.zero, realized = ExactDecimal.zero
            func sum(_ a: ExactDecimal, _ b: ExactDecimal) throws -> ExactDecimal { try PortfolioValuation.sum(a, b, client: client) }
            let open = positions.filter { $0.status == .open }.sorted { ($0.ticker, $0.positionId) < ($1.ticker, $1.positionId) }
            for position in positions { realized = try sum(realized, position.realizedGain) }
            for position in open {
                basis = try sum(basis, position.costBasis)
                value = try sum(value, try position.marketValue())
            }
            response.positions = open.prefix(limit).map { $0.proto(now: time, maxLots: 0) }
            response.positionCount = Int32(clamping: open.count)
            response.marketValue = value.description
            response.costBasis = basis.description
            response.realizedGain = realized.description
            return response
        }
    }

    // MARK: DiffPosition

    public func diffPosition(request: Ultracore_Holdings_V1_DiffPositionRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_DiffPositionResponse {
        try await ServiceError.mapping {
            _ = try model.authorizedPosition(request.positionId, .read, context)
            guard request.fromVersion >= 1 else { throw DomainError.invalidArgument(field: "from_version", reason: "must be at least 1") }
            guard request.toVersion == 0 || request.toVersion > request.fromVersion else {
                throw DomainError.invalidArgument(field: "to_version", reason: "must be 0 (the latest) or after from_version")
            }
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let id = request.positionId
            let events = try await model.pool.withConnection {
                try ReadModels.events(aggregate: id, upTo: request.toVersion == 0 ? nil : request.toVersion, on: $0)
            }
            let latest = events.last?.aggregateVersion ?? 0
            guard latest > request.fromVersion, request.toVersion == 0 || latest == request.toVersion else {
                throw DomainError.invalidArgument(field: request.toVersion == 0 ? "from_version" : "to_version",
                                                  reason: "position \(id) is at version \(latest)")
            }
            guard let first = events.first else { throw RPCError(.notFound, "position \(id) has no events") }
            var state = try PositionState.opened(by: first)
            var before: PositionState?
            if request.fromVersion == 1 { before = state }
            for event in events.dropFirst() {
                try state.apply(event)
                if event.aggregateVersion == request.fromVersion { before = state }
            }
            guard let before else { throw RPCError(.dataLoss, "position \(id) has no version \(request.fromVersion) in the audit trail") }
            var response = Ultracore_Holdings_V1_DiffPositionResponse()
            response.fromVersion = request.fromVersion
            response.toVersion = latest
            let now = Instant.now
            let old = before.proto(now: now, maxLots: 100_000), new = state.proto(now: now, maxLots: 100_000)
            response.changes = Self.fieldChanges(old, new)
            response.lots = Self.lotChanges(old.lots, new.lots)
            response.events = Array(events.filter { $0.aggregateVersion > request.fromVersion }.prefix(1_000))
            return response
        }
    }

    static func fieldChanges(_ old: Ultracore_Holdings_V1_Position, _ new: Ultracore_Holdings_V1_Position) -> [Ultracore_Holdings_V1_FieldChange] {
        func time(_ stamp: Google_Protobuf_Timestamp?) -> String { stamp.flatMap(Instant.init).map(RFC3339.format) ?? "" }
        let fields: [(String, String, String)] = [
            ("status", old.status.protoName ?? "", new.status.protoName ?? ""),
            ("quantity", old.quantity, new.quantity),
            ("cost_basis", old.costBasis, new.costBasis),
            ("average_cost", old.averageCost, new.averageCost),
            ("last_price", old.lastPrice, new.lastPrice),
            ("last_priced_at", time(old.lastPricedAt), time(new.lastPricedAt)),
            ("realized_gain", old.realizedGain, new.realizedGain),
            ("closed_at", time(old.closedAt), time(new.closedAt)),
            ("version", String(old.version), String(new.version)),
            ("updated_at", time(old.updatedAt), time(new.updatedAt)),
            ("lot_count", String(old.lotCount), String(new.lotCount)),
        ]
        return fields.filter { $0.1 != $0.2 }.map { field, before, after in
            var change = Ultracore_Holdings_V1_FieldChange()
            change.field = field
            change.before = before
            change.after = after
            return change
        }
    }

    static func lotChanges(_ old: [Ultracore_Holdings_V1_Lot], _ new: [Ultracore_Holdings_V1_Lot]) -> [Ultracore_Holdings_V1_LotChange] {
        let before = Dictionary(old.map { ($0.lotId, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.map { ($0.lotId, $0) }, uniquingKeysWith: { a, _ in a })
        return Set(before.keys).union(after.keys).sorted().compactMap { id in
            var change = Ultracore_Holdings_V1_LotChange()
            change.lotId = id
            switch (before[id], after[id]) {
            case (nil, let lot?):
                change.change = "added"
                change.quantityAfter = lot.quantity
                change.costBasisAfter = lot.costBasis
            case (let lot?, nil):
                change.change = "removed"
                change.quantityBefore = lot.quantity
                change.costBasisBefore = lot.costBasis
            case (let old?, let new?):
                guard old.quantity != new.quantity || old.costBasis != new.costBasis else { return nil }
                change.change = "changed"
                change.quantityBefore = old.quantity
                change.quantityAfter = new.quantity
                change.costBasisBefore = old.costBasis
                change.costBasisAfter = new.costBasis
            case (nil, nil):
                return nil
            }
            return change
        }
    }

    // MARK: ListQuarantinedRecords

    public func listQuarantinedRecords(request: Ultracore_Holdings_V1_ListQuarantinedRecordsRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ListQuarantinedRecordsResponse {
        try await ServiceError.mapping {
            let limit = try Validation.limit(request.limit, fallback: 100, maximum: 1_000, field: "limit")
            let found = try await model.pool.withConnection {
                try ReadModels.quarantine(limit: limit, qualityOnly: request.qualityOnly, includeReplayed: request.includeReplayed, on: $0)
            }
            var response = Ultracore_Holdings_V1_ListQuarantinedRecordsResponse()
            response.openCount = found.open
            response.records = found.rows.map { row in
                var record = Ultracore_Holdings_V1_QuarantinedRecord()
                record.topic = row.topic
                record.partition = row.partition
                record.offset = row.offset
                record.eventId = row.eventId
                record.eventType = row.eventType
                record.aggregateId = row.aggregateId
                record.clientId = row.clientId
                record.reason = row.reason
                record.failedRules = row.failedRules
                record.quarantinedAt = row.quarantinedAt.timestamp
                if let replayed = row.replayedAt { record.replayedAt = replayed.timestamp }
                return record
            }
            return response
        }
    }
}

