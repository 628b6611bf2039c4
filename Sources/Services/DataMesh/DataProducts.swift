import Domain
import EventLog
import Foundation
import HoldingsProto
import Security
import Store

/// The data products of the service, one descriptor each: the Postgres read models and
/// the topics. ListDataProducts serves them, ListMaterializedViews adds the figures, the
/// projector records the freshness of each view it feeds, and GetDataQuality slices by
/// the event products.
public enum DataProducts {
    public struct Descriptor: Sendable {
        public var name: String
        public var kind: Kind
        public var owner: String
        public var description: String
        /// The last migration that changed the table; the envelope's schema version for topics.
        public var schemaVersion: Int32
        public var classification: Ultracore_Holdings_V1_DataClassification
        public var retention: String
        public var eventTypes: [Ultracore_Holdings_V1_EventType]
        public var servedBy: [String]
        /// Topic roles (KafkaConfiguration.Topics) a read model is projected from.
        public var sources: [TopicRole]

        public enum Kind: String, Sendable { case readModel = "read_model", topic }
    }

    public enum TopicRole: Sendable { case positions, agentAlerts, deadLetters }

    static let owner = "holdings-platform"
    static let positionEvents: [Ultracore_Holdings_V1_EventType] = [.positionOpened, .lotAdded, .lotsSold, .positionClosed,
                                                                    .corporateActionApplied]
    static let runEvents: [Ultracore_Holdings_V1_EventType] = [.rebalancingTriggered, .tradeExecuted, .rebalancingCompleted,
                                                               .rebalancingAborted]
    static let positionTopicEvents: [Ultracore_Holdings_V1_EventType] = positionEvents + [.positionValued] + runEvents
        + [.rebalancingScheduled, .policyTrained]

    /// The read models, in name order.
    public static let views: [Descriptor] = [
        Descriptor(name: "agent_alerts", kind: .readModel, owner: owner,
                   description: "one row per monitoring-agent alert: open until cleared, with its acknowledgement",
                   schemaVersion: 8, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: [.agentAlert, .alertAcknowledged], servedBy: ["AgentService.ListAlerts", "AgentService.AcknowledgeAlert"],
                   sources: [.agentAlerts]),
        Descriptor(name: "dead_letters", kind: .readModel, owner: owner,
                   description: "records of the log kept out of the read models, with the reason and the failed quality rules",
                   schemaVersion: 9, classification: .dataConfidential, retention: "until replayed, then kept as history",
                   eventTypes: [], servedBy: ["DataMeshService.ListQuarantinedRecords", "grpc.health.v1 holdings.projection"],
                   sources: [.positions, .agentAlerts]),
        Descriptor(name: "events", kind: .readModel, owner: owner,
                   description: "the audit trail: every event exactly once per (aggregate, version), with its quality and lineage ids",
                   schemaVersion: 9, classification: .dataConfidential, retention: "forever (system of record)",
                   eventTypes: positionTopicEvents + [.agentAlert, .alertAcknowledged],
                   servedBy: ["HoldingsService.ListEvents", "HoldingsService.ReconstructPosition", "DataMeshService.GetLineage",
                              "DataMeshService.GetDataQuality", "DataMeshService.GetPortfolioAsOf", "DataMeshService.DiffPosition"],
                   sources: [.positions, .agentAlerts]),
        Descriptor(name: "lots", kind: .readModel, owner: owner,
                   description: "the open lots of each position: quantity, exact cost basis, fees, acquisition time",
                   schemaVersion: 1, classification: .dataConfidential, retention: "while the lot is open (history in events)",
                   eventTypes: positionEvents + [.tradeExecuted], servedBy: ["HoldingsService.GetPosition", "CostBasisService.GetCostBasisSummary"],
                   sources: [.positions]),
        Descriptor(name: "policies", kind: .readModel, owner: owner,
                   description: "trained DQN policies: weights, settings, data hash and evaluation",
                   schemaVersion: 7, classification: .dataInternal, retention: "forever (rebuilt from the log)",
                   eventTypes: [.policyTrained], servedBy: ["AgentService.RecommendAction", "AgentService.TrainPolicy"],
                   sources: [.positions]),
        Descriptor(name: "positions", kind: .readModel, owner: owner,
                   description: "one row per position: the state after its last event (quantity, basis, realized gain, last price)",
                   schemaVersion: 4, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: positionEvents + [.positionValued, .tradeExecuted], servedBy: ["HoldingsService.ListPositions", "HoldingsService.GetPortfolioValue"],
                   sources: [.positions]),
        Descriptor(name: "rebalancing_runs", kind: .readModel, owner: owner,
                   description: "the outcome of each rebalancing run (completed or void)",
                   schemaVersion: 3, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: [.rebalancingCompleted, .rebalancingAborted], servedBy: ["RebalancingService.ExecuteRebalancing"],
                   sources: [.positions]),
        Descriptor(name: "rebalancing_schedules", kind: .readModel, owner: owner,
                   description: "each rebalancing schedule's latest version: cadence, targets, next run",
                   schemaVersion: 3, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: [.rebalancingScheduled], servedBy: ["RebalancingService.ScheduleRebalancing"],
                   sources: [.positions]),
        Descriptor(name: "valuation_history", kind: .readModel, owner: owner,
                   description: "every position's market value over time (valuations, buys at cost, closings at 0)",
                   schemaVersion: 6, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: positionEvents + [.positionValued, .rebalancingCompleted],
                   servedBy: ["AnalyticsService.ComputePerformance", "AgentService.AssessRisk", "AgentService.DetectAnomalies"],
                   sources: [.positions]),
        Descriptor(name: "wash_sale_losses", kind: .readModel, owner: owner,
                   description: "loss sales and the replacement buys that disallow them (IRS wash-sale rule)",
                   schemaVersion: 5, classification: .dataConfidential, retention: "forever (rebuilt from the log)",
                   eventTypes: [.lotsSold, .positionClosed, .positionOpened, .lotAdded], servedBy: ["CostBasisService.SellLots"],
                   sources: [.positions]),
    ]

    /// The topics, with their configured names.
    public static func topics(_ names: KafkaConfiguration.Topics) -> [Descriptor] {
        [
            Descriptor(name: names.positions, kind: .topic, owner: owner,
                       description: "every change of positions, lots, valuations, rebalancing and policies; key = aggregate id, "
                           + "partition = hash of the client id (a client's events are totally ordered)",
                       schemaVersion: 1, classification: .dataConfidential, retention: "forever (compaction off; the system of record)",
                       eventTypes: positionTopicEvents, servedBy: ["HoldingsService.WatchEvents"], sources: []),
            Descriptor(name: names.agentAlerts, kind: .topic, owner: owner,
                       description: "the monitoring agent's alerts and their acknowledgements",
                       schemaVersion: 1, classification: .dataConfidential, retention: "forever",
                       eventTypes: [.agentAlert, .alertAcknowledged], servedBy: ["AgentService.ListAlerts"], sources: []),
            Descriptor(name: names.deadLetters, kind: .topic, owner: owner,
                       description: "copies of the records the projector kept out, with headers dead-letter-reason, source-topic, "
                           + "source-partition, source-offset, event-id and failed-quality-rules",
                       schemaVersion: 1, classification: .dataConfidential, retention: "7 days (the dead_letters table is the record)",
                       eventTypes: [], servedBy: [], sources: []),
        ]
    }

    /// The rules events evolve by (ListDataProductsResponse.schema_evolution_rules).
    public static let evolutionRules: [String] = [
        "compatible: adding a field with a new number (old readers skip it; new readers see its default in old events)",
        "compatible: adding an EventType value and its payload field in the oneof (old readers keep the event, see no payload, and a consumer of ours dead-letters it until it is upgraded)",
        "compatible: adding an enum value to a payload enum (old readers see the number)",
        "incompatible: renumbering, removing or changing the type of a field; reusing a number (reserve removed numbers)",
        "incompatible: changing the meaning or unit of an amount string (a new field is added instead)",
        "schema_version in the envelope and the schema-version header change only with an incompatible change; every stored version must decode with the current code (tested)",
    ]

    /// The data products GetDataQuality slices events by, and their event types. "lots"
    /// overlaps "positions" and "trades" (the events that change lots); the others partition
    /// the event types.
    public static let eventProducts: [(name: String, types: [Ultracore_Holdings_V1_EventType])] = [
        ("alerts", [.agentAlert, .alertAcknowledged]),
        ("lots", positionEvents + [.tradeExecuted]),
        ("policies", [.policyTrained]),
        ("positions", positionEvents),
        ("rebalancing", [.rebalancingTriggered, .rebalancingCompleted, .rebalancingAborted, .rebalancingScheduled]),
        ("trades", [.tradeExecuted]),
        ("valuations", [.positionValued]),
    ]

    /// The read models an accepted event of `type` feeds (the projector's freshness).
    public static func views(fedBy type: Ultracore_Holdings_V1_EventType) -> [String] {
        views.filter { $0.eventTypes.contains(type) }.map(\.name)
    }
}

extension KafkaConfiguration.Topics {
    func name(of role: DataProducts.TopicRole) -> String {
        switch role {
        case .positions: positions
        case .agentAlerts: agentAlerts
        case .deadLetters: deadLetters
        }
    }
}

extension WriteModel {
    struct Freshness {
        var partitions: [PartitionKey: (next: Int64, high: Int64, lastRecordAt: Instant?)]
        var lastEvents: [String: Instant]
    }

    /// Every event partition's high watermark next to the projector's stored offset, and
    /// the last event applied to each read model.
    func partitionFreshness() async throws -> Freshness {
        let (marks, key) = try await logMarks()
        let (lastEvents, stored) = try await pool.withConnection {
            (try ReadModels.viewLastEvents(on: $0), try ReadModels.projectorOffsets(group: key, on: $0))
        }
        var partitions: [PartitionKey: (next: Int64, high: Int64, lastRecordAt: Instant?)] = [:]
        for (partition, mark) in marks {
            let position = stored[partition]
            partitions[partition] = (position?.next ?? 0, mark.high, position?.lastRecordAt)
        }
        return Freshness(partitions: partitions, lastEvents: lastEvents)
    }
}

/// RFC 3339 text of an instant, UTC, with microseconds.
enum RFC3339 {
    static func format(_ instant: Instant) -> String {
        let seconds = instant.microseconds >= 0 ? instant.microseconds / 1_000_000 : (instant.microseconds - 999_999) / 1_000_000
        return AuditLog.rfc3339(seconds: Int(seconds), fraction: Int(instant.microseconds - seconds * 1_000_000), digits: 6)
    }
}
