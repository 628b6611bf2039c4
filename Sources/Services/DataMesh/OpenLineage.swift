import Domain
import EventLog
import Foundation
import HoldingsProto
import Store

/// What one projector batch applied, gathered while it runs (the projector's thread only).
final class ProjectionReport {
    /// Events that joined the audit trail, in log order.
    var accepted: [ReadModels.Recorded] = []
    /// Records kept out (dead letters and quarantined records).
    var keptOut: [DeadLetter] = []
}

/// OpenLineage run events (https://openlineage.io, spec 2-0-2) on the lineage topic, as JSON:
/// one run per projector batch (job "holdings.projector": the event topic in, the read models
/// it changed out) and one per rebalancing run (job "holdings.rebalancing": START when its
/// trigger is projected, COMPLETE or ABORT with its outcome). The input dataset carries the
/// batch's quality (dataQualityMetrics: row count and the quality_score column's count, min,
/// max, sum and quantiles; dataQualityAssertions: one assertion per rule, failed when an
/// event of the batch failed it); each output read model carries its column lineage.
enum OpenLineage {
    static let schemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
    static let producer = "https://github.com/ultracore/holdings/holdingsd"
    static let jobNamespace = "holdings"

    static func facetSchema(_ name: String, version: String) -> String {
        "https://openlineage.io/spec/facets/\(version)/\(name).json#/$defs/\(name)"
    }

    /// Where the datasets live: the Kafka cluster and the Postgres database (credentials removed).
    struct Namespaces: Sendable {
        var kafka: String
        var postgres: String

        init(bootstrap: String, databaseURL: String) {
            kafka = "kafka://" + (bootstrap.split(separator: ",").first.map(String.init) ?? "localhost")
            var database = databaseURL
            if let components = URLComponents(string: databaseURL), let host = components.host {
                database = "postgres://\(host):\(components.port ?? 5432)\(components.path)"
            } else if let range = databaseURL.range(of: "host=") {
                database = "postgres://" + databaseURL[range.upperBound...].prefix { $0 != " " }
            }
            postgres = database
        }
    }

    static func rfc3339(_ instant: Instant) -> String { RFC3339.format(instant) }

    /// A run id for a name that has none of its own (a rebalancing id): a UUID built from
    /// the SHA-256 of the name, so START and COMPLETE agree across restarts.
    static func runId(for name: String) -> String {
        var hex = Array(Digest.sha256Hex(Array(name.utf8)).prefix(32))
        hex[12] = "5"
        hex[16] = ["8", "9", "a", "b"][(hex[16].hexDigitValue ?? 0) % 4]
        return [hex[0..<8], hex[8..<12], hex[12..<16], hex[16..<20], hex[20..<32]].map { String($0) }.joined(separator: "-")
    }

    static func event(_ type: String, runId: String, job: String, at: Instant, inputs: [[String: Any]] = [],
                      outputs: [[String: Any]] = [], runFacets: [String: Any] = [:]) -> [String: Any] {
        var run: [String: Any] = ["runId": runId]
        if !runFacets.isEmpty { run["facets"] = runFacets }
        return [
            "eventType": type, "eventTime": rfc3339(at), "producer": producer, "schemaURL": schemaURL,
            "run": run, "job": ["namespace": jobNamespace, "name": job, "facets": [String: Any]()],
            "inputs": inputs, "outputs": outputs,
        ]
    }

    static func facet(_ name: String, version: String, _ fields: [String: Any]) -> [String: Any] {
        fields.merging(["_producer": producer, "_schemaURL": facetSchema(name, version: version)]) { current, _ in current }
    }

    /// The event topic as the batch's input, with the batch's quality: the scores of the
    /// events applied, and the rules failed by any record read (applied or kept out).
    static func topicInput(_ topic: String, namespaces: Namespaces, events: [ReadModels.Recorded], keptOut: [DeadLetter]) -> [String: Any] {
        let scores = events.map { Double($0.quality.score) }.sorted()
        var column: [String: Any] = ["count": Double(scores.count), "nullCount": 0]
        if let first = scores.first, let last = scores.last {
            column["min"] = first
            column["max"] = last
            column["sum"] = scores.reduce(0, +)
            column["distinctCount"] = Set(scores).count
            column["quantiles"] = Dictionary(uniqueKeysWithValues: [0.25, 0.5, 0.75].map { q in
                (String(q), scores[min(scores.count - 1, Int((Double(scores.count - 1) * q).rounded(.down)))])
            })
        }
        let failed = Set(events.flatMap(\.quality.failed) + keptOut.flatMap(\.failedRules))
        let assertions: [[String: Any]] = DataQuality.rules.map { rule in
            ["assertion": rule.name, "success": !failed.contains(rule.name), "column": "quality_score",
             "severity": rule.critical ? "error" : "warn"]
        }
        return [
            "namespace": namespaces.kafka, "name": topic, "facets": [String: Any](),
            "inputFacets": [
                "dataQualityAssertions": facet("DataQualityAssertionsDatasetFacet", version: "1-1-0", ["assertions": assertions]),
                "dataQualityMetrics": facet("DataQualityMetricsInputDatasetFacet", version: "1-0-3",
                                            ["rowCount": events.count + keptOut.count, "columnMetrics": ["quality_score": column]]),
            ],
        ]
    }

    /// Which event field feeds which column of each read model (the column lineage).
    static let columnSources: [String: [(column: String, fields: [String])]] = [
        "positions": [("quantity", ["lot.quantity", "realized.quantity", "lots_after.quantity"]),
                      ("cost_basis", ["lot.cost_basis", "realized.cost_basis"]),
                      ("realized_gain", ["total_realized_gain", "cash_in_lieu_gain"]),
                      ("last_price", ["position_valued.price"]), ("version", ["aggregate_version"])],
        "lots": [("quantity", ["lot.quantity", "realized.quantity", "lots_after.quantity"]),
                 ("cost_basis", ["lot.cost_basis", "realized.cost_basis"]), ("acquired_at", ["lot.acquired_at"])],
        "valuation_history": [("market_value", ["position_valued.market_value", "lot.cost_basis"])],
        "events": [("quality_score", ["quality_score"]), ("body", ["*"])],
        "rebalancing_runs": [("outcome", ["rebalancing_completed", "rebalancing_aborted"])],
        "rebalancing_schedules": [("body", ["rebalancing_scheduled.schedule"])],
        "policies": [("body", ["policy_trained"])],
        "agent_alerts": [("status", ["agent_alert.status", "alert_acknowledged"])],
        "wash_sale_losses": [("disallowed", ["wash_sale_matches"])],
        "dead_letters": [("reason", ["*"])],
    ]

    static func tableOutput(_ table: String, topic: String, namespaces: Namespaces, rows: Int? = nil) -> [String: Any] {
        var fields: [String: Any] = [:]
        for (column, sources) in columnSources[table] ?? [] {
            fields[column] = ["inputFields": sources.map { source in
                ["namespace": namespaces.kafka, "name": topic, "field": source,
                 "transformations": [["type": "DIRECT", "subtype": "TRANSFORMATION", "masking": false]]] as [String: Any]
            }]
        }
        var output: [String: Any] = [
            "namespace": namespaces.postgres, "name": "public." + table,
            "facets": ["columnLineage": facet("ColumnLineageDatasetFacet", version: "1-2-0", ["fields": fields])],
        ]
        if let rows { output["outputFacets"] = ["outputStatistics": facet("OutputStatisticsOutputDatasetFacet", version: "1-0-2", ["rowCount": rows])] }
        return output
    }

    /// The run events of one committed batch, as records for the lineage topic.
    static func records(batchStarted: Instant, committed: Instant, topic lineageTopic: String, sourceTopics: [String],
                        namespaces: Namespaces, report: ProjectionReport) -> [OutgoingRecord] {
        guard !report.accepted.isEmpty || !report.keptOut.isEmpty else { return [] }
        var events: [[String: Any]] = []
        let batchRun = UUIDText.random()
        let byTopic = Dictionary(grouping: report.accepted, by: \.topic)
        let keptOutTopics = Set(report.keptOut.map(\.topic))
        let inputs = sourceTopics.filter { byTopic[$0] != nil || keptOutTopics.contains($0) }
            .map { topic in
                topicInput(topic, namespaces: namespaces, events: byTopic[topic] ?? [], keptOut: report.keptOut.filter { $0.topic == topic })
            }
        var tables = Set<String>()
        for item in report.accepted { tables.formUnion(DataProducts.views(fedBy: item.event.eventType)) }
        if !report.keptOut.isEmpty { tables.insert("dead_letters") }
        let outputs = tables.sorted().map { table in
            tableOutput(table, topic: sourceTopics.first ?? "", namespaces: namespaces,
                        rows: table == "dead_letters" ? report.keptOut.count : table == "events" ? report.accepted.count : nil)
        }
        events.append(event("START", runId: batchRun, job: "holdings.projector", at: batchStarted, inputs: inputs))
        events.append(event("COMPLETE", runId: batchRun, job: "holdings.projector", at: committed, inputs: inputs, outputs: outputs))
        // Rebalancing runs: their trigger starts them, their outcome ends them.
        for item in report.accepted {
            let event = item.event
            let at = event.occurredAt.flatMap(Instant.init) ?? committed
            let parent: [String: Any] = ["parent": facet("ParentRunFacet", version: "1-2-0", [
                "run": ["runId": batchRun], "job": ["namespace": jobNamespace, "name": "holdings.projector"]])]
            let runInput = [["namespace": namespaces.kafka, "name": item.topic, "facets": [String: Any]()] as [String: Any]]
            switch event.payload {
            case .rebalancingTriggered(let run)?:
                events.append(Self.event("START", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput, runFacets: parent))
            case .rebalancingCompleted(let run)?:
                events.append(Self.event("COMPLETE", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput,
                                         outputs: ["rebalancing_runs", "positions", "lots"].map {
                                             tableOutput($0, topic: item.topic, namespaces: namespaces) },
                                         runFacets: parent))
            case .rebalancingAborted(let run)?:
                events.append(Self.event("ABORT", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput, outputs: [tableOutput("rebalancing_runs", topic: item.topic, namespaces: namespaces)],
                                         runFacets: parent))
            default:
                break
            }
        }
        return events.compactMap { body in
            guard let json = try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
            let run = (body["run"] as? [String: Any])?["runId"] as? String ?? ""
            return OutgoingRecord(topic: lineageTopic, partition: -1, key: Array(run.utf8), value: Array(json),
                                  headers: [("content-type", Array("application/json".utf8))])
        }
    }
}
