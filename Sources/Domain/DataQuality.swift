import HoldingsProto

/// The data-quality rules of an event (data_mesh.proto, QualityRuleName, states them for
/// clients). An event's score is the weighted share of the rules that apply to it and
/// pass; the names of the failed rules travel with it in the envelope. The same function
/// scores an event when holdingsd produces it and when the projector reads it from the
/// log, so a record written by another producer is judged by the same rules; one that
/// fails a critical rule is quarantined (dead-lettered) and changes no read model.
public enum DataQuality {
    public enum Dimension: String, Sendable, CaseIterable {
        case completeness, validity, consistency, uniqueness, timeliness
    }

    public struct Rule: Sendable, Hashable {
        public var name: String
        public var dimension: Dimension
        /// Points out of 100 (the weights of all rules add up to 100).
        public var weight: Int
        /// A failed critical rule keeps the event out of the read models.
        public var critical: Bool
        public var description: String
    }

    /// Event time (`occurred_at`, when the change was recorded) may be ahead of the ingest
    /// time by this much (clock skew between producers) before it counts as in the future.
    public static let allowedSkewMicros: Int64 = 300_000_000
    /// Ingest SLA: the log must hold an event within this long of its `occurred_at`.
    public static let ingestSLAMicros: Int64 = 60_000_000
    /// Booking SLA: a trade is recorded within a day of its trade time, a price within a day
    /// of its quote time.
    public static let bookingSLAMicros: Int64 = 86_400_000_000

    public static let envelopeComplete = Rule(
        name: "envelope_complete", dimension: .completeness, weight: 15, critical: true,
        description: "event id (a UUID), aggregate id, version >= 1, occurred_at, source, a known event type and schema version 1, "
            + "the payload of that type, and a client id (except POLICY_TRAINED)")
    public static let payloadComplete = Rule(
        name: "payload_complete", dimension: .completeness, weight: 10, critical: true,
        description: "the payload's own required fields: ids that match the envelope (position id = aggregate id, client id), "
            + "ticker, lots with an id, a source event id and an acquisition time, sale, price and effective times")
    public static let quantitiesPositive = Rule(
        name: "quantities_positive", dimension: .validity, weight: 10, critical: true,
        description: "every quantity is a decimal > 0 (a valued position's quantity may be 0)")
    public static let pricesPositive = Rule(
        name: "prices_positive", dimension: .validity, weight: 10, critical: true,
        description: "every price and split ratio is a decimal > 0; fees, costs and cost bases are decimals >= 0")
    public static let identifiersValid = Rule(
        name: "identifiers_valid", dimension: .validity, weight: 5, critical: false,
        description: "tickers are 1-12 characters of A-Z 0-9 . -; ids are printable ASCII of at most 128 bytes")
    public static let timeNotFuture = Rule(
        name: "time_not_future", dimension: .validity, weight: 5, critical: true,
        description: "occurred_at and every trade, price and effective time are at most 5 minutes after the ingest time")
    public static let amountsReconcile = Rule(
        name: "amounts_reconcile", dimension: .consistency, weight: 15, critical: true,
        description: "a lot's unit cost × quantity = its cost basis (to the unit cost's 10 places); a sale's parts add up to its "
            + "quantity and Σ proceeds = quantity × price − fees; each part's gain = proceeds − basis and the total gain is their sum; "
            + "market value = quantity × price; a split's lots add up to the quantity after it; a trade's lot or parts match its quantity")
    public static let versionSequence = Rule(
        name: "version_sequence", dimension: .consistency, weight: 10, critical: true,
        description: "a position starts with POSITION_OPENED at version 1 and only there; a rebalancing run is TRIGGERED at 1 and "
            + "COMPLETED or ABORTED at 2; the projector also refuses a version that does not follow the aggregate's last")
    public static let uniqueIds = Rule(
        name: "unique_ids", dimension: .uniqueness, weight: 10, critical: true,
        description: "no other event has this event id or this (aggregate, version); the same record read twice is a replay, not a failure")
    public static let ingestedPromptly = Rule(
        name: "ingested_promptly", dimension: .timeliness, weight: 5, critical: false,
        description: "the log received the event within 60 seconds of its occurred_at")
    public static let bookedPromptly = Rule(
        name: "booked_promptly", dimension: .timeliness, weight: 5, critical: false,
        description: "a buy, sale or trade is recorded within a day of its trade time; a valuation within a day of its quote time")

    /// Every rule, in the order GetDataQuality lists them.
    public static let rules: [Rule] = [envelopeComplete, payloadComplete, quantitiesPositive, pricesPositive, identifiersValid,
                                       timeNotFuture, amountsReconcile, versionSequence, uniqueIds, ingestedPromptly, bookedPromptly]

    public static func rule(named name: String) -> Rule? { rules.first { $0.name == name } }

    /// The rules that apply to events of `type`.
    public static func applicable(to type: Ultracore_Holdings_V1_EventType) -> [Rule] {
        if let known = applicableByType[type.rawValue] { return known.rules }
        return computeApplicable(type)
    }

    /// Σ weight of the rules that apply to events of `type`.
    public static func applicableWeight(of type: Ultracore_Holdings_V1_EventType) -> Int {
        applicableByType[type.rawValue]?.weight ?? computeApplicable(type).reduce(0) { $0 + $1.weight }
    }

    /// `applicable` of every known type, computed once (scoring runs for every event twice).
    private static let applicableByType: [Int32: (rules: [Rule], weight: Int)] = Dictionary(uniqueKeysWithValues:
        Ultracore_Holdings_V1_EventType.allCases.map { type in
            let rules = computeApplicable(type)
            return (type.rawValue, (rules, rules.reduce(0) { $0 + $1.weight }))
        })

    private static func computeApplicable(_ type: Ultracore_Holdings_V1_EventType) -> [Rule] {
        rules.filter { rule in
            switch rule.name {
            case quantitiesPositive.name:
                return [.positionOpened, .lotAdded, .lotsSold, .positionClosed, .positionValued, .corporateActionApplied,
                        .tradeExecuted, .rebalancingCompleted].contains(type)
            case amountsReconcile.name:
                return [.positionOpened, .lotAdded, .lotsSold, .positionClosed, .positionValued, .corporateActionApplied,
                        .tradeExecuted].contains(type)
            case pricesPositive.name:
                return [.positionOpened, .lotAdded, .lotsSold, .positionClosed, .positionValued, .corporateActionApplied,
                        .tradeExecuted, .rebalancingCompleted].contains(type)
            case bookedPromptly.name:
                return [.positionOpened, .lotAdded, .lotsSold, .positionClosed, .positionValued, .tradeExecuted].contains(type)
            default:
                return true
            }
        }
    }

    public struct Assessment: Sendable, Hashable {
        /// 0–100: the weighted share of applicable rules passed, rounded half up.
        public var score: Int32
        /// Names of the failed rules, in `rules` order.
        public var failed: [String]
        /// One line per failure: the rule and what failed.
        public var details: [String]

        public var failedCritical: [String] { failed.filter { DataQuality.rule(named: $0)?.critical ?? true } }
    }

    /// Scores `event` as ingested at `ingestedAt`. `duplicate` is set by the projector when
    /// another event already holds this id or (aggregate, version).
    public static func assess(_ event: Ultracore_Holdings_V1_Event, ingestedAt: Instant, duplicate: String? = nil) -> Assessment {
        var checker = Checker(event: event, ingestedAt: ingestedAt)
        checker.run()
        if let duplicate { checker.fail(uniqueIds, duplicate) }
        if checker.failures.isEmpty { return Assessment(score: 100, failed: [], details: []) }
        let applicable = applicable(to: event.eventType)
        let total = applicable.reduce(0) { $0 + $1.weight }
        // Only the rules of the event's type count (a dividend's reinvested lot may be dated
        // back to the effective date: booking timeliness is not a rule of corporate actions).
        let names = Set(applicable.map(\.name))
        let failures = checker.failures.filter { names.contains($0.0) }
        if failures.isEmpty { return Assessment(score: 100, failed: [], details: []) }
        let failedNames = Set(failures.map(\.0))
        let passed = applicable.filter { !failedNames.contains($0.name) }.reduce(0) { $0 + $1.weight }
        let score = total == 0 ? 100 : Int32((passed * 200 + total) / (2 * total))
        return Assessment(score: score, failed: rules.map(\.name).filter(failedNames.contains),
                          details: failures.map { "\($0.0): \($0.1)" })
    }

    /// Sets the envelope's score and failed rules from `assess`.
    public static func stamp(_ event: inout Ultracore_Holdings_V1_Event, ingestedAt: Instant) -> Assessment {
        event.qualityScore = 100
        event.failedQualityRules = []
        let assessment = assess(event, ingestedAt: ingestedAt)
        event.qualityScore = assessment.score
        event.failedQualityRules = assessment.failed
        return assessment
    }
}

/// Runs the rules over one event, collecting (rule, why) for each failure.
private struct Checker {
    let event: Ultracore_Holdings_V1_Event
    let ingestedAt: Instant
    var failures: [(String, String)] = []

    init(event: Ultracore_Holdings_V1_Event, ingestedAt: Instant) {
        self.event = event
        self.ingestedAt = ingestedAt
    }

    mutating func fail(_ rule: DataQuality.Rule, _ why: String) {
        if !failures.contains(where: { $0.0 == rule.name }) { failures.append((rule.name, why)) }
    }

    mutating func run() {
        envelope()
        timeliness()
        switch event.payload {
        case .positionOpened(let opened)?:
            position(opened.positionId, opened.clientId, opened.ticker)
            newLots([opened.lot].compactMap { $0 } + opened.washSaleLots, required: opened.lot != nil)
        case .lotAdded(let added)?:
            position(added.positionId, added.clientId, added.ticker)
            newLots([added.lot].compactMap { $0 } + added.washSaleLots, required: added.lot != nil)
        case .lotsSold(let sold)?:
            position(sold.positionId, sold.clientId, sold.ticker)
            sale(price: sold.price, fees: sold.fees, quantity: sold.quantity, soldAt: sold.soldAt, parts: sold.realized,
                 total: sold.totalRealizedGain)
            newLots(sold.washSaleLots, required: true)
        case .positionClosed(let closed)?:
            position(closed.positionId, closed.clientId, closed.ticker)
            sale(price: closed.price, fees: closed.fees, quantity: nil, soldAt: closed.closedAt, parts: closed.realized,
                 total: closed.totalRealizedGain)
            newLots(closed.washSaleLots, required: true)
        case .positionValued(let valued)?:
            position(valued.positionId, valued.clientId, valued.ticker)
            valuation(valued)
        case .corporateActionApplied(let action)?:
            position(action.positionId, action.clientId, action.ticker)
            corporateAction(action)
        case .tradeExecuted(let trade)?:
            tradeExecuted(trade)
        case .rebalancingTriggered(let run)?:
            run.rebalancingId == event.aggregateId && run.clientId == event.clientId
                ? () : fail(DataQuality.payloadComplete, "rebalancing_id or client_id differs from the envelope")
        case .rebalancingCompleted(let run)?:
            if run.rebalancingId != event.aggregateId || run.clientId != event.clientId {
                fail(DataQuality.payloadComplete, "rebalancing_id or client_id differs from the envelope")
            }
            if run.tradeCount < 0 { fail(DataQuality.quantitiesPositive, "trade_count \(run.tradeCount) < 0") }
            nonNegative(run.totalCost, "total_cost")
        case .rebalancingAborted(let run)?:
            if run.rebalancingId != event.aggregateId || run.clientId != event.clientId {
                fail(DataQuality.payloadComplete, "rebalancing_id or client_id differs from the envelope")
            }
        case .rebalancingScheduled(let scheduled)?:
            if scheduled.schedule?.scheduleId != event.aggregateId || scheduled.schedule?.clientId != event.clientId {
                fail(DataQuality.payloadComplete, "schedule_id or client_id differs from the envelope")
            }
        case .policyTrained(let policy)?:
            if policy.policyId != event.aggregateId { fail(DataQuality.payloadComplete, "policy_id differs from the aggregate id") }
        case .agentAlert(let alert)?:
            if alert.clientId != event.clientId { fail(DataQuality.payloadComplete, "client_id differs from the envelope") }
        case .alertAcknowledged(let ack)?:
            if ack.alertId.isEmpty { fail(DataQuality.payloadComplete, "alert_id is empty") }
        case nil:
            break  // envelope_complete failed already
        }
        versionSequence()
    }

    // MARK: completeness

    mutating func envelope() {
        var missing: [String] = []
        if !Validation.isUUID(event.eventId) { missing.append("event_id is not a UUID") }
        if event.aggregateId.isEmpty { missing.append("aggregate_id is empty") }
        if event.aggregateVersion < 1 { missing.append("aggregate_version \(event.aggregateVersion) < 1") }
        if event.occurredAt.flatMap(Instant.init) == nil { missing.append("occurred_at is missing or invalid") }
        if event.source.isEmpty { missing.append("source is empty") }
        if event.schemaVersion != 1 { missing.append("schema_version \(event.schemaVersion) is not 1") }
        if event.eventType.protoName == nil || event.eventType == .unspecified { missing.append("event_type is unknown") }
        if event.clientId.isEmpty && event.eventType != .policyTrained { missing.append("client_id is empty") }
        if let payload = event.payload {
            if Self.type(of: payload) != event.eventType { missing.append("the payload is not the one of \(event.eventType.protoName ?? "?")") }
        } else {
            missing.append("no payload")
        }
        if !missing.isEmpty { fail(DataQuality.envelopeComplete, missing.joined(separator: "; ")) }
        for (field, value) in [("aggregate_id", event.aggregateId), ("client_id", event.clientId), ("request_id", event.requestId)]
        where !value.isEmpty && (try? Validation.identifier(value, field: field)) == nil {
            fail(DataQuality.identifiersValid, "\(field) is not printable ASCII of at most 128 bytes")
        }
    }

    static func type(of payload: Ultracore_Holdings_V1_Event.Payload) -> Ultracore_Holdings_V1_EventType {
        switch payload {
        case .positionOpened: .positionOpened
        case .lotAdded: .lotAdded
        case .lotsSold: .lotsSold
        case .positionClosed: .positionClosed
        case .positionValued: .positionValued
        case .corporateActionApplied: .corporateActionApplied
        case .rebalancingTriggered: .rebalancingTriggered
        case .tradeExecuted: .tradeExecuted
        case .rebalancingCompleted: .rebalancingCompleted
        case .rebalancingScheduled: .rebalancingScheduled
        case .policyTrained: .policyTrained
        case .rebalancingAborted: .rebalancingAborted
        case .agentAlert: .agentAlert
        case .alertAcknowledged: .alertAcknowledged
        }
    }

    mutating func position(_ positionId: String, _ clientId: String, _ ticker: String) {
        if positionId != event.aggregateId { fail(DataQuality.payloadComplete, "position_id differs from the aggregate id") }
        if clientId != event.clientId { fail(DataQuality.payloadComplete, "client_id differs from the envelope") }
        if ticker.isEmpty {
            fail(DataQuality.payloadComplete, "ticker is empty")
        } else if (try? Validation.ticker(ticker)) == nil {
            fail(DataQuality.identifiersValid, "ticker \(ticker.prefix(16).debugDescription) is not 1-12 characters of A-Z 0-9 . -")
        }
    }

    // MARK: amounts

    /// A decimal field: nil (and a failure of `rule`) when it is not one.
    mutating func decimal(_ text: String, _ field: String, _ rule: DataQuality.Rule) -> ExactDecimal? {
        guard let value = ExactDecimal(text) else {
            fail(rule, "\(field) \(text.prefix(32).debugDescription) is not a decimal")
            return nil
        }
        return value
    }

    @discardableResult
    mutating func positive(_ text: String, _ field: String, _ rule: DataQuality.Rule = DataQuality.quantitiesPositive) -> ExactDecimal? {
        guard let value = decimal(text, field, rule) else { return nil }
        guard value.isPositive else {
            fail(rule, "\(field) \(text) is not > 0")
            return nil
        }
        return value
    }

    @discardableResult
    mutating func nonNegative(_ text: String, _ field: String) -> ExactDecimal? {
        guard let value = decimal(text, field, DataQuality.pricesPositive) else { return nil }
        guard !value.isNegative else {
            fail(DataQuality.pricesPositive, "\(field) \(text) is negative")
            return nil
        }
        return value
    }

    /// |a − b| <= tolerance.
    static func close(_ a: ExactDecimal, _ b: ExactDecimal, within tolerance: ExactDecimal) -> Bool {
        guard let difference = try? a.subtracting(b) else { return false }
        return difference.magnitude <= tolerance
    }

    static let rounding = ExactDecimal(unchecked: 1, scale: 9)
    static let unitCostRounding = ExactDecimal(unchecked: 1, scale: 10)

    mutating func newLots(_ lots: [Ultracore_Holdings_V1_Lot], required: Bool) {
        if !required { fail(DataQuality.payloadComplete, "lot is missing") }
        for lot in lots {
            if lot.lotId.isEmpty { fail(DataQuality.payloadComplete, "a lot has no lot_id") }
            if !Validation.isUUID(lot.sourceEventId) { fail(DataQuality.payloadComplete, "lot \(lot.lotId) has no source_event_id (a UUID)") }
            guard let acquired = lot.acquiredAt.flatMap(Instant.init) else {
                fail(DataQuality.payloadComplete, "lot \(lot.lotId) has no acquired_at")
                continue
            }
            future(acquired, "lot \(lot.lotId) acquired_at")
            late(acquired, "lot \(lot.lotId) acquired_at")
            let quantity = positive(lot.quantity, "lot \(lot.lotId) quantity")
            let basis = nonNegative(lot.costBasis, "lot \(lot.lotId) cost_basis")
            nonNegative(lot.fees.isEmpty ? "0" : lot.fees, "lot \(lot.lotId) fees")
            let unitCost = nonNegative(lot.unitCost, "lot \(lot.lotId) unit_cost")
            if let quantity, let basis, let unitCost, let product = try? unitCost.multiplied(by: quantity),
               let tolerance = try? quantity.multiplied(by: Self.unitCostRounding).adding(Self.rounding),
               !Self.close(product, basis, within: tolerance) {
                fail(DataQuality.amountsReconcile, "lot \(lot.lotId): unit_cost \(unitCost) × quantity \(quantity) ≠ cost_basis \(basis)")
            }
            if let original = ExactDecimal(lot.originalQuantity), let quantity, original < quantity {
                fail(DataQuality.amountsReconcile, "lot \(lot.lotId): original_quantity \(original) < quantity \(quantity)")
            }
        }
    }

    mutating func sale(price: String, fees: String, quantity: String?, soldAt: Google_Protobuf_Timestamp?,
                       parts: [Ultracore_Holdings_V1_RealizedLot], total: String) {
        let price = positive(price, "price", DataQuality.pricesPositive)
        let fees = nonNegative(fees.isEmpty ? "0" : fees, "fees")
        if let soldAt = soldAt.flatMap(Instant.init) {
            future(soldAt, "sold_at")
            late(soldAt, "sold_at")
        } else {
            fail(DataQuality.payloadComplete, "the sale time is missing")
        }
        if parts.isEmpty { fail(DataQuality.payloadComplete, "no realized lots") }
        var sold = ExactDecimal.zero, proceeds = ExactDecimal.zero, gains = ExactDecimal.zero
        var summable = true
        for part in parts {
            guard let q = positive(part.quantity, "realized lot \(part.lotId) quantity"),
                  let p = decimal(part.proceeds, "realized lot \(part.lotId) proceeds", DataQuality.amountsReconcile),
                  let b = nonNegative(part.costBasis, "realized lot \(part.lotId) cost_basis"),
                  let g = decimal(part.realizedGain, "realized lot \(part.lotId) realized_gain", DataQuality.amountsReconcile) else {
                summable = false
                continue
            }
            if let expected = try? p.subtracting(b), !Self.close(expected, g, within: Self.rounding) {
                fail(DataQuality.amountsReconcile, "realized lot \(part.lotId): gain \(g) ≠ proceeds \(p) − basis \(b)")
            }
            do {
                sold = try sold.adding(q)
                proceeds = try proceeds.adding(p)
                gains = try gains.adding(g)
            } catch {
                summable = false
            }
        }
        guard summable else { return }
        if let quantity, let stated = positive(quantity, "quantity"), stated != sold {
            fail(DataQuality.amountsReconcile, "the realized lots add up to \(sold), not quantity \(stated)")
        }
        if let price, let fees, let gross = try? sold.multiplied(by: price), let net = try? gross.subtracting(fees),
           !Self.close(net, proceeds, within: Self.rounding) {
            fail(DataQuality.amountsReconcile, "Σ proceeds \(proceeds) ≠ quantity \(sold) × price \(price) − fees \(fees)")
        }
        if let stated = decimal(total, "total_realized_gain", DataQuality.amountsReconcile), !Self.close(stated, gains, within: Self.rounding) {
            fail(DataQuality.amountsReconcile, "total_realized_gain \(stated) ≠ Σ realized_gain \(gains)")
        }
    }

    mutating func valuation(_ valued: Ultracore_Holdings_V1_PositionValued) {
        let price = positive(valued.price, "price", DataQuality.pricesPositive)
        let quantity = decimal(valued.quantity, "quantity", DataQuality.quantitiesPositive)
        if let quantity, quantity.isNegative { fail(DataQuality.quantitiesPositive, "quantity \(quantity) is negative") }
        if let pricedAt = valued.pricedAt.flatMap(Instant.init) {
            future(pricedAt, "priced_at")
            late(pricedAt, "priced_at")
        } else {
            fail(DataQuality.payloadComplete, "priced_at is missing")
        }
        if let price, let quantity, let value = decimal(valued.marketValue, "market_value", DataQuality.amountsReconcile),
           let expected = try? quantity.multiplied(by: price), !Self.close(value, expected, within: Self.rounding) {
            fail(DataQuality.amountsReconcile, "market_value \(value) ≠ quantity \(quantity) × price \(price)")
        }
    }

    mutating func corporateAction(_ action: Ultracore_Holdings_V1_CorporateActionApplied) {
        if action.actionId.isEmpty { fail(DataQuality.payloadComplete, "action_id is empty") }
        if let effective = action.effectiveAt.flatMap(Instant.init) {
            future(effective, "effective_at")
        } else {
            fail(DataQuality.payloadComplete, "effective_at is missing")
        }
        switch action.type {
        case .split:
            positive(action.splitTo, "split_to", DataQuality.pricesPositive)
            positive(action.splitFrom, "split_from", DataQuality.pricesPositive)
            let after = decimal(action.quantityAfter, "quantity_after", DataQuality.quantitiesPositive)
            if let after, after.isNegative { fail(DataQuality.quantitiesPositive, "quantity_after \(after) is negative") }
            var total = ExactDecimal.zero
            for lot in action.lotsAfter {
                guard let quantity = positive(lot.quantity, "lot \(lot.lotId) quantity after"),
                      let sum = try? total.adding(quantity) else { return }
                total = sum
            }
            if let after, after != total {
                fail(DataQuality.amountsReconcile, "the lots after the split add up to \(total), not quantity_after \(after)")
            }
        case .cashDividend:
            positive(action.dividendPerShare, "dividend_per_share", DataQuality.pricesPositive)
            nonNegative(action.dividendAmount, "dividend_amount")
            if let lot = action.reinvestedLot { newLots([lot], required: true) }
        default:
            fail(DataQuality.payloadComplete, "the corporate action type is unknown")
        }
    }

    mutating func tradeExecuted(_ trade: Ultracore_Holdings_V1_TradeExecuted) {
        if trade.clientId != event.clientId { fail(DataQuality.payloadComplete, "client_id differs from the envelope") }
        if trade.rebalancingId.isEmpty { fail(DataQuality.payloadComplete, "rebalancing_id is empty") }
        if trade.positionId != event.aggregateId { fail(DataQuality.payloadComplete, "position_id differs from the aggregate id") }
        if (try? Validation.ticker(trade.ticker)) == nil {
            fail(trade.ticker.isEmpty ? DataQuality.payloadComplete : DataQuality.identifiersValid, "ticker is not valid")
        }
        let quantity = positive(trade.quantity, "quantity")
        positive(trade.price, "price", DataQuality.pricesPositive)
        nonNegative(trade.cost, "cost")
        switch trade.side {
        case .buy:
            guard let lot = trade.lot else { return fail(DataQuality.payloadComplete, "a buy has no lot") }
            newLots([lot], required: true)
            if let quantity, let lotQuantity = ExactDecimal(lot.quantity), lotQuantity != quantity {
                fail(DataQuality.amountsReconcile, "the lot holds \(lotQuantity), not the trade's quantity \(quantity)")
            }
        case .sell:
            var total = ExactDecimal.zero
            for part in trade.realized {
                guard let q = positive(part.quantity, "realized lot \(part.lotId) quantity"), let sum = try? total.adding(q) else { return }
                total = sum
            }
            if let quantity, total != quantity {
                fail(DataQuality.amountsReconcile, "the realized lots add up to \(total), not the trade's quantity \(quantity)")
            }
        default:
            fail(DataQuality.payloadComplete, "the trade side is unknown")
        }
    }

    // MARK: time

    mutating func future(_ instant: Instant, _ field: String) {
        if instant.microseconds > ingestedAt.microseconds + DataQuality.allowedSkewMicros {
            fail(DataQuality.timeNotFuture, "\(field) is \((instant.microseconds - ingestedAt.microseconds) / 1_000_000) s after the ingest time")
        }
    }

    /// A business time (trade, quote) recorded more than the booking SLA after it happened.
    mutating func late(_ instant: Instant, _ field: String) {
        guard let occurred = event.occurredAt.flatMap(Instant.init) else { return }
        if occurred.microseconds - instant.microseconds > DataQuality.bookingSLAMicros {
            fail(DataQuality.bookedPromptly, "\(field) is \((occurred.microseconds - instant.microseconds) / 3_600_000_000) h before occurred_at")
        }
    }

    mutating func timeliness() {
        guard let occurred = event.occurredAt.flatMap(Instant.init) else { return }
        future(occurred, "occurred_at")
        if ingestedAt.microseconds - occurred.microseconds > DataQuality.ingestSLAMicros {
            fail(DataQuality.ingestedPromptly, "ingested \((ingestedAt.microseconds - occurred.microseconds) / 1_000_000) s after occurred_at")
        }
    }

    mutating func versionSequence() {
        let version = event.aggregateVersion
        switch event.eventType {
        case .positionOpened where version != 1:
            fail(DataQuality.versionSequence, "POSITION_OPENED at version \(version), not 1")
        case .lotAdded, .lotsSold, .positionClosed, .positionValued, .corporateActionApplied:
            if version < 2 { fail(DataQuality.versionSequence, "\(event.eventType.protoName ?? "") at version \(version): a position starts with POSITION_OPENED") }
        case .rebalancingTriggered where version != 1:
            fail(DataQuality.versionSequence, "REBALANCING_TRIGGERED at version \(version), not 1")
        case .rebalancingCompleted where version != 2, .rebalancingAborted where version != 2:
            fail(DataQuality.versionSequence, "a run's outcome at version \(version), not 2")
        default:
            break
        }
    }
}
