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
    /// Per read model, the latest occurred_at of the events applied to it.
    var latest: [String: Instant] = [:]
}

/// The projection of up to a second (the projector's lineage run): what the batches
/// committed in it read and wrote, in counts (the projector's thread only).
final class LineageWindow {
    struct TopicFigures {
        /// Events applied, by quality score.
        var scores: [Int32: Int] = [:]
        /// Rules failed by a record read (applied or kept out).
        var failed: Set<String> = []
        var keptOut = 0
    }

    let runId = UUIDText.random()
    let started: Instant
    var topics: [String: TopicFigures] = [:]
    var tables: Set<String> = []
    var applied = 0
    var keptOut = 0
    /// Rebalancing outcomes and triggers applied, in log order.
    var runs: [(event: Ultracore_Holdings_V1_Event, topic: String)] = []

    init(started: Instant) { self.started = started }

    func add(_ report: ProjectionReport) {
        for item in report.accepted {
            topics[item.topic, default: TopicFigures()].scores[item.quality.score, default: 0] += 1
            topics[item.topic, default: TopicFigures()].failed.formUnion(item.quality.failed)
            tables.formUnion(DataProducts.views(fedBy: item.event.eventType))
            switch item.event.payload {
            case .rebalancingTriggered?, .rebalancingCompleted?, .rebalancingAborted?: runs.append((item.event, item.topic))
            default: break
            }
        }
        for letter in report.keptOut {
            topics[letter.topic, default: TopicFigures()].keptOut += 1
            topics[letter.topic, default: TopicFigures()].failed.formUnion(letter.failedRules)
        }
        if !report.keptOut.isEmpty { tables.insert("dead_letters") }
        applied += report.accepted.count
        keptOut += report.keptOut.count
    }

    var isEmpty: Bool { applied == 0 && keptOut == 0 }
}

/// OpenLineage run events (https://openlineage.io, spec 2-0-2) on the lineage topic, as JSON:
/// one run per projection window (job "holdings.projector": the batches committed within a
/// second, so that a busy log does not write two lineage records per small batch; the event
/// topic in, the read models it changed out) and one per rebalancing run (job
/// "holdings.rebalancing": START when its trigger is projected, COMPLETE or ABORT with its
/// outcome, a child of the window that applied it). The input dataset carries the window's
/// quality (dataQualityMetrics: row count and the quality_score column's count, min, max, sum
/// and quantiles; dataQualityAssertions: one assertion per rule, failed when a record read in
/// the window failed it); each output read model carries its column lineage.
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

    /// The event topic as the window's input, with its quality: the scores of the events
    /// applied, and the rules failed by any record read (applied or kept out).
    static func topicInput(_ topic: String, namespaces: Namespaces, figures: LineageWindow.TopicFigures) -> [String: Any] {
        let sorted = figures.scores.sorted { $0.key < $1.key }
        let count = sorted.reduce(0) { $0 + $1.value }
        var column: [String: Any] = ["count": Double(count), "nullCount": 0]
        if let first = sorted.first, let last = sorted.last {
            column["min"] = Double(first.key)
            column["max"] = Double(last.key)
            column["sum"] = sorted.reduce(0.0) { $0 + Double($1.key) * Double($1.value) }
            column["distinctCount"] = sorted.count
            /// The score at rank ⌊(count − 1)·q⌋ (0-based), lower nearest rank.
            func quantile(_ q: Double) -> Double {
                var rank = Int((Double(count - 1) * q).rounded(.down))
                for (score, n) in sorted {
                    if rank < n { return Double(score) }
                    rank -= n
                }
                return Double(last.key)
            }
            column["quantiles"] = Dictionary(uniqueKeysWithValues: [0.25, 0.5, 0.75].map { (String($0), quantile($0)) })
        }
        let assertions: [[String: Any]] = DataQuality.rules.map { rule in
            ["assertion": rule.name, "success": !figures.failed.contains(rule.name), "column": "quality_score",
             "severity": rule.critical ? "error" : "warn"]
        }
        return [
            "namespace": namespaces.kafka, "name": topic, "facets": [String: Any](),
            "inputFacets": [
                "dataQualityAssertions": facet("DataQualityAssertionsDatasetFacet", version: "1-1-0", ["assertions": assertions]),
                "dataQualityMetrics": facet("DataQualityMetricsInputDatasetFacet", version: "1-0-3",
                                            ["rowCount": count + figures.keptOut, "columnMetrics": ["quality_score": column]]),
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

    /// The run events of one closed window, as records for the lineage topic.
    static func records(window: LineageWindow, closed: Instant, topic lineageTopic: String, sourceTopics: [String],
                        namespaces: Namespaces) -> [OutgoingRecord] {
        guard !window.isEmpty else { return [] }
        var events: [[String: Any]] = []
        let inputs = sourceTopics.compactMap { topic in
            window.topics[topic].map { topicInput(topic, namespaces: namespaces, figures: $0) }
        }
        let outputs = window.tables.sorted().map { table in
            tableOutput(table, topic: sourceTopics.first ?? "", namespaces: namespaces,
                        rows: table == "dead_letters" ? window.keptOut : table == "events" ? window.applied : nil)
        }
        events.append(event("START", runId: window.runId, job: "holdings.projector", at: window.started, inputs: inputs))
        events.append(event("COMPLETE", runId: window.runId, job: "holdings.projector", at: closed, inputs: inputs, outputs: outputs))
        // Rebalancing runs: their trigger starts them, their outcome ends them.
        let parent: [String: Any] = ["parent": facet("ParentRunFacet", version: "1-2-0", [
            "run": ["runId": window.runId], "job": ["namespace": jobNamespace, "name": "holdings.projector"]])]
        for (event, topic) in window.runs {
            let at = event.occurredAt.flatMap(Instant.init) ?? closed
            let runInput = [["namespace": namespaces.kafka, "name": topic, "facets": [String: Any]()] as [String: Any]]
            switch event.payload {
            case .rebalancingTriggered(let run)?:
                events.append(Self.event("START", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput, runFacets: parent))
            case .rebalancingCompleted(let run)?:
                events.append(Self.event("COMPLETE", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput,
                                         outputs: ["rebalancing_runs", "positions", "lots"].map {
                                             tableOutput($0, topic: topic, namespaces: namespaces) },
                                         runFacets: parent))
            case .rebalancingAborted(let run)?:
                events.append(Self.event("ABORT", runId: runId(for: run.rebalancingId), job: "holdings.rebalancing", at: at,
                                         inputs: runInput, outputs: [tableOutput("rebalancing_runs", topic: topic, namespaces: namespaces)],
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
