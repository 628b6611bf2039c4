import Domain
import HoldingsProto
import Testing

/// The data-quality rules (DataQuality, data_mesh.proto QualityRuleName): the table matches
/// the contract, events the domain builds score 100, and each rule catches what it names
/// with the score the formula gives.
@Suite struct DataQualityTests {
    static let t0 = Instant(microseconds: 1_735_689_600_000_000)  // 2025-01-01T00:00:00Z
    static let eventId = "00000000-0000-4000-8000-000000000001"

    func context(_ at: Instant = t0) -> EventContext {
        EventContext(eventId: Self.eventId, occurredAt: at, correlationId: "r1", causationId: "r1", source: "test", requestId: "")
    }

    func buy(_ quantity: String = "10", _ price: String = "150.25", fees: String = "1.5", tradeTime: Instant? = nil) throws -> Ultracore_Holdings_V1_Event {
        var request = Ultracore_Holdings_V1_OpenPositionRequest()
        request.clientId = "c1"
        request.ticker = "AAPL"
        request.quantity = quantity
        request.price = price
        request.fees = fees
        if let tradeTime { request.tradeTime = tradeTime.timestamp }
        return try OpenPositionCommand(request, now: Self.t0).decide(existing: nil, newPositionId: "pos-1", context: context())
    }

    /// round-half-up(100 × passed ÷ applicable weight), computed from the table.
    func expected(_ event: Ultracore_Holdings_V1_Event, failing: [String]) -> Int32 {
        let rules = DataQuality.applicable(to: event.eventType)
        let total = rules.reduce(0) { $0 + $1.weight }
        let passed = rules.filter { !failing.contains($0.name) }.reduce(0) { $0 + $1.weight }
        return Int32((passed * 200 + total) / (2 * total))
    }

    @Test func theRuleTableIsTheContractsAndItsWeightsAddUpTo100() {
        let names = Ultracore_Holdings_V1_QualityRuleName.allCases.filter { $0 != .unspecified }.compactMap { $0.protoName?.lowercased() }
        #expect(DataQuality.rules.map(\.name) == names)
        #expect(DataQuality.rules.reduce(0) { $0 + $1.weight } == 100)
        #expect(Set(DataQuality.rules.filter(\.critical).map(\.name)) == ["envelope_complete", "payload_complete", "quantities_positive",
            "prices_positive", "time_not_future", "amounts_reconcile", "version_sequence", "unique_ids"])
        #expect(DataQuality.applicable(to: .agentAlert).reduce(0) { $0 + $1.weight } == 60)
    }

    @Test func anEventTheDomainBuildsScores100() throws {
        let event = try buy()
        let assessment = DataQuality.assess(event, ingestedAt: Self.t0)
        #expect(assessment.score == 100 && assessment.failed.isEmpty, "\(assessment.details)")
        var stamped = event
        stamped.qualityScore = 3
        #expect(DataQuality.stamp(&stamped, ingestedAt: Self.t0).score == 100 && stamped.qualityScore == 100)
    }

    /// A broken variant of a valid buy, and the rule that must catch it.
    static func broken(_ variant: String, _ e: inout Ultracore_Holdings_V1_Event) -> String {
        switch variant {
        case "negative quantity": e.mutateLot { $0.quantity = "-1" }; return "quantities_positive"
        case "quantity not a number": e.mutateLot { $0.quantity = "ten" }; return "quantities_positive"
        case "basis off": e.mutateLot { $0.costBasis = "1504.01" }; return "amounts_reconcile"
        case "negative fees": e.mutateLot { $0.fees = "-1" }; return "prices_positive"
        case "no source event": e.mutateLot { $0.sourceEventId = "" }; return "payload_complete"
        case "other client in payload": e.clientId = "c2"; return "payload_complete"
        case "event id not a UUID": e.eventId = "not-a-uuid"; return "envelope_complete"
        case "type not the payload's": e.eventType = .lotAdded; return "envelope_complete"
        case "unknown schema": e.schemaVersion = 2; return "envelope_complete"
        case "opened at version 2": e.aggregateVersion = 2; return "version_sequence"
        case "lower-case ticker":
            if case .positionOpened(var opened)? = e.payload { opened.ticker = "aapl"; e.payload = .positionOpened(opened) }
            return "identifiers_valid"
        default:
            e.occurredAt = Instant(microseconds: DataQualityTests.t0.microseconds + 301_000_000).timestamp
            return "time_not_future"
        }
    }

    @Test(arguments: ["negative quantity", "quantity not a number", "basis off", "negative fees", "no source event",
                      "other client in payload", "event id not a UUID", "type not the payload's", "unknown schema",
                      "opened at version 2", "lower-case ticker", "in the future"])
    func eachRuleCatchesWhatItNames(variant: String) throws {
        var event = try buy()
        let rule = Self.broken(variant, &event)
        let assessment = DataQuality.assess(event, ingestedAt: Self.t0)
        #expect(assessment.failed.contains(rule), "\(variant): \(assessment.details)")
        #expect(assessment.score == expected(event, failing: assessment.failed))
        let critical = DataQuality.rule(named: rule)?.critical ?? false
        #expect(assessment.failedCritical.contains(rule) == critical)
    }

    @Test func lateIngestAndBackdatedTradesLoseOnlyTimelinessPoints() throws {
        let late = DataQuality.assess(try buy(), ingestedAt: Instant(microseconds: Self.t0.microseconds + 61_000_000))
        #expect(late.failed == ["ingested_promptly"] && late.score == 95 && late.failedCritical.isEmpty)
        let backdated = try buy(tradeTime: Instant(microseconds: Self.t0.microseconds - 86_400_000_001))
        let assessment = DataQuality.assess(backdated, ingestedAt: Self.t0)
        #expect(assessment.failed == ["booked_promptly"] && assessment.score == 95, "\(assessment.details)")
        let dayOld = try buy(tradeTime: Instant(microseconds: Self.t0.microseconds - 86_400_000_000))
        #expect(DataQuality.assess(dayOld, ingestedAt: Self.t0).score == 100)
    }

    @Test func onlyTheRulesOfTheEventsTypeCount() {
        // A dividend reinvested into a lot dated back to the effective date three days ago:
        // booking timeliness is not a rule of corporate actions.
        let effective = Instant(microseconds: Self.t0.microseconds - 3 * 86_400_000_000)
        var event = context().envelope(aggregateId: "pos-1", version: 2, clientId: "c1")
        var action = Ultracore_Holdings_V1_CorporateActionApplied()
        action.actionId = "ca-1"
        action.positionId = "pos-1"
        action.clientId = "c1"
        action.ticker = "AAPL"
        action.type = .cashDividend
        action.dividendPerShare = "0.5"
        action.dividendAmount = "5"
        action.effectiveAt = effective.timestamp
        var lot = Ultracore_Holdings_V1_Lot()
        lot.lotId = "L2"
        lot.sourceEventId = Self.eventId
        lot.acquiredAt = effective.timestamp
        lot.quantity = "0.04"
        lot.originalQuantity = "0.04"
        lot.unitCost = "125"
        lot.costBasis = "5"
        lot.fees = "0"
        action.reinvestedLot = lot
        event.eventType = .corporateActionApplied
        event.payload = .corporateActionApplied(action)
        let assessment = DataQuality.assess(event, ingestedAt: Self.t0)
        #expect(assessment.score == 100 && assessment.failed.isEmpty, "\(assessment.details)")
        // The same lot on a buy is booked late.
        var buy = context().envelope(aggregateId: "pos-1", version: 2, clientId: "c1")
        var added = Ultracore_Holdings_V1_LotAdded()
        added.positionId = "pos-1"
        added.clientId = "c1"
        added.ticker = "AAPL"
        added.lot = lot
        buy.eventType = .lotAdded
        buy.payload = .lotAdded(added)
        #expect(DataQuality.assess(buy, ingestedAt: Self.t0).failed == ["booked_promptly"])
    }

    @Test func aSaleMustReconcileItsParts() throws {
        let opened = try buy("10", "100", fees: "0")
        let position = try PositionState.opened(by: opened)
        var request = Ultracore_Holdings_V1_SellLotsRequest()
        request.clientId = "c1"
        request.ticker = "AAPL"
        request.quantity = "4"
        request.price = "120.5"
        request.fees = "1.25"
        request.method = .fifo
        var sellContext = context()
        sellContext.eventId = "00000000-0000-4000-8000-000000000002"
        let (sale, _) = try SellCommand(request, now: Self.t0).decide(position, context: sellContext)
        #expect(DataQuality.assess(sale, ingestedAt: Self.t0).score == 100)
        guard case .lotsSold(var sold)? = sale.payload else { Issue.record("not a sale"); return }
        sold.totalRealizedGain = "1"
        var broken = sale
        broken.payload = .lotsSold(sold)
        let assessment = DataQuality.assess(broken, ingestedAt: Self.t0)
        #expect(assessment.failed == ["amounts_reconcile"] && assessment.details.first?.contains("total_realized_gain 1") == true)
    }

    @Test func noPayloadAndGarbageStringsNeverTrap() {
        var event = Ultracore_Holdings_V1_Event()
        event.eventType = Ultracore_Holdings_V1_EventType(rawValue: 999)
        let assessment = DataQuality.assess(event, ingestedAt: Self.t0)
        #expect(assessment.failed.contains("envelope_complete") && assessment.score < 100)
        var huge = Ultracore_Holdings_V1_Event()
        var valued = Ultracore_Holdings_V1_PositionValued()
        valued.price = "99999999999999999999999999999999999"
        valued.quantity = "99999999999999999999999999999999999"
        valued.marketValue = "1e400"
        huge.payload = .positionValued(valued)
        huge.eventType = .positionValued
        #expect(DataQuality.assess(huge, ingestedAt: Self.t0).failedCritical.isEmpty == false)
    }
}

extension Ultracore_Holdings_V1_Event {
    mutating func mutateLot(_ change: (inout Ultracore_Holdings_V1_Lot) -> Void) {
        guard case .positionOpened(var opened)? = payload, var lot = opened.lot else { return }
        change(&lot)
        opened.lot = lot
        payload = .positionOpened(opened)
    }
}
