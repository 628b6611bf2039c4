import Domain
import EventLog
import Foundation
import HoldingsProto
import Prometheus
import RPCCore
import Store

/// The process's metrics in Prometheus text format (GET /metrics with --metrics-port):
/// - gRPC server calls, with the names of the gRPC OpenTelemetry metrics (gRFC A66) in
///   Prometheus form: `grpc_server_call_started_total{grpc_method}` and the histogram
///   `grpc_server_call_duration_seconds{grpc_method,grpc_status}`; grpc_method is
///   "<service>/<method>" of a routed method (an unknown method is never a label value);
/// - the projector's events by type and quality bucket, the records it kept out by cause,
///   and the open dead letters;
/// - at each scrape, the lag of every event partition behind the log (events and seconds)
///   and each read model's last applied event time.
/// Every label value comes from the contract or the code, never from a request's bytes.
public final class HoldingsMetrics: CallObserver, @unchecked Sendable {
    // @unchecked: the registry and the metrics it hands out are thread-safe; `collectors`
    // is set once, before the metrics server starts.
    public let registry = PrometheusCollectorRegistry()
    /// The latency buckets of gRFC A66, seconds.
    static let latencyBuckets: [Double] = [0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
                                           0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13,
                                           0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100]

    /// The process-wide metrics (the projector and the server report here).
    public static let shared = HoldingsMetrics()

    private var collectors: [@Sendable () async -> Void] = []

    public init() {}

    // MARK: gRPC server

    public func started(_ method: MethodDescriptor) {
        registry.makeCounter(descriptor: Self.callsStarted, labels: [("grpc_method", "\(method.service)/\(method.method)")]).increment()
    }

    public func finished(_ method: MethodDescriptor, status: StatusCode, duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        registry.makeValueHistogram(descriptor: Self.callDuration,
                                    labels: [("grpc_method", "\(method.service)/\(method.method)"), ("grpc_status", status.description)],
                                    buckets: Self.latencyBuckets).record(seconds)
    }

    static var callsStarted: MetricNameDescriptor { MetricNameDescriptor(metricName: "grpc_server_call_started", unitName: "total",
                                                   helpText: "Calls started, by method (gRFC A66 grpc.server.call.started)") }
    static var callDuration: MetricNameDescriptor { MetricNameDescriptor(metricName: "grpc_server_call_duration", unitName: "seconds",
                                                   helpText: "Call duration from the request headers to the status, by method and status (gRFC A66 grpc.server.call.duration)") }

    // MARK: projector

    static var eventsProjected: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_events_projected", unitName: "total",
                                                      helpText: "Events the projector applied, by event type and quality bucket") }
    static var recordsKeptOut: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_records_kept_out", unitName: "total",
                                                     helpText: "Records of the log the projector kept out of the read models: cause quality (quarantined for a critical data-quality rule) or projection (does not fit its aggregate, not an event)") }
    static var deadLettersOpen: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_dead_letters_open", unitName: "records",
                                                      helpText: "Records waiting in the dead-letter table") }

    /// The quality bucket of a score: "100", "95-99", "90-94", "75-89", "50-74" or "0-49".
    public static func bucket(_ score: Int32) -> String {
        switch score {
        case 100...: "100"
        case 95...: "95-99"
        case 90...: "90-94"
        case 75...: "75-89"
        case 50...: "50-74"
        default: "0-49"
        }
    }

    func projected(_ events: [ReadModels.Recorded], keptOut: [DeadLetter]) {
        var counts: [String: Int64] = [:]
        for item in events {
            counts[(item.event.eventType.protoName ?? "EVENT_TYPE_UNSPECIFIED") + "\u{1}" + Self.bucket(item.quality.score), default: 0] += 1
        }
        for (key, count) in counts {
            let parts = key.split(separator: "\u{1}").map(String.init)
            registry.makeCounter(descriptor: Self.eventsProjected, labels: [("event_type", parts[0]), ("quality_bucket", parts[1])])
                .increment(by: count)
        }
        let quality = keptOut.filter { !$0.failedRules.isEmpty }.count
        if quality > 0 { registry.makeCounter(descriptor: Self.recordsKeptOut, labels: [("cause", "quality")]).increment(by: Int64(quality)) }
        if keptOut.count > quality {
            registry.makeCounter(descriptor: Self.recordsKeptOut, labels: [("cause", "projection")]).increment(by: Int64(keptOut.count - quality))
        }
    }

    func deadLetters(open count: Int) {
        registry.makeGauge(descriptor: Self.deadLettersOpen, labels: []).set(to: Double(count))
    }

    // MARK: scrape

    static var partitionLagEvents: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_projector_lag", unitName: "events",
                                                         helpText: "Records of the partition the projector has not applied (high watermark minus stored offset)") }
    static var partitionLagSeconds: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_projector_lag", unitName: "seconds",
                                                          helpText: "Now minus the log time of the last record applied, while records wait; 0 otherwise") }
    static var viewLastEvent: MetricNameDescriptor { MetricNameDescriptor(metricName: "holdings_view_last_event", unitName: "timestamp_seconds",
                                                    helpText: "Occurred-at time of the last event applied to the read model") }

    /// Adds the freshness figures of `model` to every scrape (an API process).
    public func observeFreshness(of model: WriteModel) {
        collectors.append { [registry] in
            guard let freshness = try? await model.partitionFreshness() else { return }
            let now = Instant.now.microseconds
            for (key, value) in freshness.partitions {
                let labels = [("topic", key.topic), ("partition", String(key.partition))]
                let lag = max(0, value.high - value.next)
                registry.makeGauge(descriptor: Self.partitionLagEvents, labels: labels).set(to: Double(lag))
                let seconds = lag > 0 ? Double(max(0, now - (value.lastRecordAt?.microseconds ?? now))) / 1e6 : 0
                registry.makeGauge(descriptor: Self.partitionLagSeconds, labels: labels).set(to: seconds)
            }
            for (view, at) in freshness.lastEvents {
                registry.makeGauge(descriptor: Self.viewLastEvent, labels: [("view", view)]).set(to: Double(at.microseconds) / 1e6)
            }
        }
    }

    /// The exposition, after refreshing the scrape-time figures.
    public func scrape() async -> [UInt8] {
        for collect in collectors { await collect() }
        return registry.emitToBuffer()
    }
}
