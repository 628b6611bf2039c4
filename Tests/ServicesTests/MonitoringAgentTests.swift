import Domain
import EventLog
import Foundation
import HoldingsProto
@testable import Services
import Synchronization
import Testing

/// A backend the test controls: the client's book, the drift outcome, and a record of what the
/// agent did (alerts and rebalancing runs, each with the cause it was started under).
final class ScriptedBackend: AgentBackend, Sendable {
    struct Script: Sendable {
        var summaries: [PositionSummary] = []
        var schedule: Ultracore_Holdings_V1_RebalancingSchedule?
        var driftOutside = false
        var settled = true
        var alerts: [(alert: Ultracore_Holdings_V1_AgentAlert, version: Int64, cause: String?)] = []
        var runs: [(autoExecute: Bool, cause: String?)] = []
        /// Runs the read models say ended.
        var ended: Set<String> = []
    }

    let script = Mutex(Script())
    let pool = PostgresPool(url: "postgresql://127.0.0.1:1/unused", size: 1)
    let producer: EventProducer

    init() throws {
        producer = try EventProducer(configuration: KafkaConfiguration(), bootstrap: "127.0.0.1:9")
    }

    func settle(client: String, seen: [Ultracore_Holdings_V1_Event]) async throws -> Bool { script.withLock { $0.settled } }
    func schedule(of client: String) async throws -> Ultracore_Holdings_V1_RebalancingSchedule? { script.withLock { $0.schedule } }
    func openSummaries(of client: String) async throws -> [PositionSummary] { script.withLock { $0.summaries } }

    func evaluate(_ input: EvaluationInput) async throws -> EvaluationOutcome {
        let outside = script.withLock { $0.driftOutside }
        let drift = AssetDrift(ticker: "AAA", target: ExactDecimal("0.5")!, current: ExactDecimal(outside ? "0.6" : "0.52")!,
                               marketValue: ExactDecimal(600), outside: outside)
        return EvaluationOutcome(assets: [], value: ExactDecimal(1000), drifts: [drift], effectiveTargets: input.targets,
                                 shouldRebalance: outside, reasons: [])
    }

    func rebalance(schedule: Ultracore_Holdings_V1_RebalancingSchedule, input: EvaluationInput,
                   outcome: EvaluationOutcome) async throws -> (rebalancingId: String, trades: Int?) {
        let cause = EventCause.current?.eventId
        let count = script.withLock { state in
            state.runs.append((schedule.autoExecute, cause))
            return state.runs.count
        }
        return ("reb-\(count)", schedule.autoExecute ? 2 : nil)
    }

    func recordAlert(_ alert: Ultracore_Holdings_V1_AgentAlert, version: Int64) async throws {
        let cause = EventCause.current?.eventId
        script.withLock { $0.alerts.append((alert, version, cause)) }
    }

    func runEnded(_ rebalancingId: String) async throws -> Bool { script.withLock { $0.ended.contains(rebalancingId) } }
    func valuationSeries(of client: String) async throws -> [Double] { [] }
    func marketEvents(of client: String) async throws -> [Ultracore_Holdings_V1_Event] { [] }
}

@Suite("Monitoring agent: one open alert per client and kind, drift starts one rebalancing, decisions name their cause")
struct MonitoringAgentTests {
    static func event(_ type: Ultracore_Holdings_V1_EventType, client: String = "c1") -> Ultracore_Holdings_V1_Event {
        var event = Ultracore_Holdings_V1_Event()
        event.eventId = UUIDText.random()
        event.correlationId = "corr-" + event.eventId
        event.eventType = type
        event.clientId = client
        return event
    }

    static func summary(_ ticker: String, value: Int) -> PositionSummary {
        PositionSummary(positionId: "pos-\(ticker)", ticker: ticker, quantity: ExactDecimal(value), costBasis: ExactDecimal(value),
                        lastPrice: ExactDecimal(1))
    }

    /// Client c1's enabled schedule: 50/50 in AAA and BBB, a 5-point band, executed automatically.
    static func autoExecutingSchedule() -> Ultracore_Holdings_V1_RebalancingSchedule {
        var schedule = Ultracore_Holdings_V1_RebalancingSchedule()
        schedule.scheduleId = "s1"
        schedule.clientId = "c1"
        schedule.enabled = true
        schedule.autoExecute = true
        schedule.targetWeights = ["AAA": "0.5", "BBB": "0.5"]
        var band = Ultracore_Holdings_V1_DriftBand()
        band.absolute = "0.05"
        schedule.band = band
        return schedule
    }

    static func agent(_ backend: ScriptedBackend) -> MonitoringAgent {
        MonitoringAgent(backend: backend, configuration: KafkaConfiguration(), bootstrap: "127.0.0.1:9")
    }

    @Test("concentration: raised once, escalated by a more urgent finding, cleared when it no longer holds")
    func concentrationLifecycle() async throws {
        let backend = try ScriptedBackend()
        let agent = Self.agent(backend)
        backend.script.withLock { $0.summaries = [Self.summary("AAA", value: 50), Self.summary("BBB", value: 50)] }
        let first = Self.event(.lotAdded)
        #expect(await agent.evaluate(client: "c1", events: [first]))
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.positionValued)]))  // still 50 %: nothing new
        backend.script.withLock { $0.summaries = [Self.summary("AAA", value: 70), Self.summary("BBB", value: 30)] }
        let escalating = Self.event(.positionValued)
        #expect(await agent.evaluate(client: "c1", events: [escalating]))
        backend.script.withLock { $0.summaries = [Self.summary("AAA", value: 34), Self.summary("BBB", value: 33), Self.summary("CCC", value: 33)] }
        let calming = Self.event(.positionOpened)
        #expect(await agent.evaluate(client: "c1", events: [calming]))
        let alerts = backend.script.withLock { $0.alerts }.filter { $0.alert.kind == .concentration }
        #expect(alerts.map { "\($0.alert.state.protoName ?? "")/\($0.alert.severity.protoName ?? "")/\($0.version)" }
                == ["RAISED/WARNING/1", "CLEARED/WARNING/2", "RAISED/CRITICAL/1", "CLEARED/CRITICAL/2"])
        #expect(alerts.map(\.cause) == [first.eventId, escalating.eventId, escalating.eventId, calming.eventId])
        #expect(alerts[0].alert.alertId == alerts[1].alert.alertId && alerts[2].alert.alertId != alerts[0].alert.alertId)
        #expect(alerts[2].alert.figures["largest_weight"] == "0.7" && alerts[2].alert.causeEventIds == [escalating.eventId])
        #expect(agent.openAlert("c1", .concentration) == nil)
    }

    @Test("drift: one rebalancing per open alert, started under the deciding event; cleared when back in the band")
    func driftStartsOneRebalancing() async throws {
        let backend = try ScriptedBackend()
        let agent = Self.agent(backend)
        backend.script.withLock {
            $0.schedule = Self.autoExecutingSchedule()
            $0.driftOutside = true
            $0.summaries = [Self.summary("AAA", value: 60), Self.summary("BBB", value: 40), Self.summary("CCC", value: 40)]
        }
        let earlier = Self.event(.lotAdded), deciding = Self.event(.positionValued)
        #expect(await agent.evaluate(client: "c1", events: [earlier, deciding]))
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.positionValued)]))  // still outside: no second run
        let runs = backend.script.withLock { $0.runs }
        #expect(runs.count == 1 && runs[0].autoExecute && runs[0].cause == deciding.eventId)
        var drifts = backend.script.withLock { $0.alerts }.filter { $0.alert.kind == .drift }
        #expect(drifts.count == 1 && drifts[0].alert.rebalancingId == "reb-1" && drifts[0].alert.figures["trades"] == "2")
        #expect(drifts[0].alert.causeEventIds == [deciding.eventId, earlier.eventId])
        backend.script.withLock { $0.driftOutside = false }
        let completed = Self.event(.rebalancingCompleted)
        #expect(await agent.evaluate(client: "c1", events: [completed]))
        drifts = backend.script.withLock { $0.alerts }.filter { $0.alert.kind == .drift }
        #expect(drifts.count == 2 && drifts[1].alert.state == .cleared && drifts[1].version == 2 && drifts[1].cause == completed.eventId)
        // Without a schedule there is no drift rule, and events of other kinds decide nothing.
        #expect(await agent.evaluate(client: "c2", events: [Self.event(.rebalancingScheduled, client: "c2")]))
        #expect(backend.script.withLock { $0.runs.count } == 1)
    }

    static func runEvent(_ type: Ultracore_Holdings_V1_EventType, run: String) -> Ultracore_Holdings_V1_Event {
        var event = Self.event(type)
        event.aggregateId = run
        switch type {
        case .tradeExecuted:
            var trade = Ultracore_Holdings_V1_TradeExecuted()
            trade.rebalancingId = run
            event.payload = .tradeExecuted(trade)
        case .rebalancingAborted:
            var aborted = Ultracore_Holdings_V1_RebalancingAborted()
            aborted.rebalancingId = run
            event.payload = .rebalancingAborted(aborted)
        default:
            var completed = Ultracore_Holdings_V1_RebalancingCompleted()
            completed.rebalancingId = run
            event.payload = .rebalancingCompleted(completed)
        }
        return event
    }

    @Test("drift: once the alert's run ended, a later event outside the band is a new finding; the run's own events never are")
    func driftAfterTheRunEnded() async throws {
        let backend = try ScriptedBackend()
        let agent = Self.agent(backend)
        backend.script.withLock {
            $0.schedule = Self.autoExecutingSchedule()
            $0.driftOutside = true
        }
        func runs() -> Int { backend.script.withLock { $0.runs.count } }
        func drifts() -> [(alert: Ultracore_Holdings_V1_AgentAlert, version: Int64, cause: String?)] {
            backend.script.withLock { $0.alerts }.filter { $0.alert.kind == .drift }
        }
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.positionValued)]))
        #expect(runs() == 1 && agent.openAlert("c1", .drift)?.rebalancingId == "reb-1")
        // The run's own trades and completion leave the client outside: the alert stands, no second run.
        #expect(await agent.evaluate(client: "c1", events: [Self.runEvent(.tradeExecuted, run: "reb-1"),
                                                            Self.runEvent(.rebalancingCompleted, run: "reb-1")]))
        #expect(runs() == 1 && drifts().count == 1)
        // A later valuation (the end is in an earlier batch: the read models say so) is a new finding.
        backend.script.withLock { $0.ended = ["reb-1"] }
        let later = Self.event(.positionValued)
        #expect(await agent.evaluate(client: "c1", events: [later]))
        #expect(runs() == 2 && backend.script.withLock { $0.runs[1].cause } == later.eventId)
        var alerts = drifts()
        #expect(alerts.map { "\($0.alert.rebalancingId)/\($0.version)" } == ["reb-1/1", "reb-1/2", "reb-2/1"])
        #expect(alerts[1].alert.alertId == alerts[0].alert.alertId && alerts[1].cause == later.eventId)
        // A batch holding the end of reb-2 (a restart's replay, with the read models already past it):
        // only what follows the end in the batch counts, and here nothing does.
        backend.script.withLock { $0.ended = ["reb-1", "reb-2"] }
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.positionValued), Self.runEvent(.tradeExecuted, run: "reb-2"),
                                                            Self.runEvent(.rebalancingCompleted, run: "reb-2")]))
        #expect(runs() == 2)
        // A run that has not ended holds its alert open whatever comes.
        backend.script.withLock { $0.ended = ["reb-1"] }
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.positionValued)]))
        #expect(runs() == 2)
        // The end and a later event in one batch (a busy client), the read models not yet past it.
        let after = Self.event(.lotAdded)
        #expect(await agent.evaluate(client: "c1", events: [Self.runEvent(.tradeExecuted, run: "reb-2"),
                                                            Self.runEvent(.rebalancingAborted, run: "reb-2"), after]))
        #expect(runs() == 3 && backend.script.withLock { $0.runs[2].cause } == after.eventId)
        alerts = drifts()
        #expect(alerts.map { "\($0.alert.rebalancingId)/\($0.version)" } == ["reb-1/1", "reb-1/2", "reb-2/1", "reb-2/2", "reb-3/1"])
    }

    @Test("a client that moved past the batch is left for the batch that holds its latest event")
    func deferredWhileTheClientMovedOn() async throws {
        let backend = try ScriptedBackend()
        let agent = Self.agent(backend)
        backend.script.withLock {
            $0.settled = false
            $0.summaries = [Self.summary("AAA", value: 90), Self.summary("BBB", value: 10)]
        }
        #expect(await agent.evaluate(client: "c1", events: [Self.event(.lotAdded)]) == false)
        #expect(backend.script.withLock { $0.alerts.isEmpty })
    }
}
