import Domain
import EventLog
import HoldingsProto
import RPCCore
import Store

/// Puts a client's events on the log: produced in order to the client's partition of the
/// positions topic (a client's events are totally ordered, which a rebalancing run needs),
/// acknowledged by the broker and, with the embedded broker, committed by Postgres.
final class EventRecorder: Sendable {
    struct Outcome: Sendable {
        /// One per event: nil when it is in the log (and, embedded, in Postgres).
        var results: [(any Error)?]
        /// Partitions a failed event may still have reached.
        var uncertain: [PartitionKey]
    }

    let producer: EventProducer
    let gate: ProjectionGate
    let topic: String
    let partitions: Int32
    /// With the embedded broker (a log in this process's memory), how long a write waits for
    /// Postgres to commit it before it is answered; nil with a real cluster, whose ack is the
    /// commit point.
    let ackAfterProjection: Duration?

    init(producer: EventProducer, gate: ProjectionGate, topic: String, partitions: Int32, ackAfterProjection: Duration?) {
        self.producer = producer
        self.gate = gate
        self.topic = topic
        self.partitions = partitions
        self.ackAfterProjection = ackAfterProjection
    }

    func partition(of client: String) -> PartitionKey {
        PartitionKey(topic: topic, partition: EventLog.partition(forKey: Array(client.utf8), partitions: partitions))
    }

    /// Produces the events of one client and waits for the broker (and, embedded, Postgres).
    /// Each is scored first (DataQuality, as of its occurred_at: the score and failed rules
    /// travel in its envelope);
    /// one that fails a critical rule is a defect of the write path and is not produced
    /// (INTERNAL). Events whose partition is too far behind the projection are not produced
    /// (UNAVAILABLE).
    func record(_ events: [Ultracore_Holdings_V1_Event], client: String) async -> Outcome {
        var events = events
        var results: [(any Error)?] = Array(repeating: nil, count: events.count)
        var records: [OutgoingRecord] = []
        var sent: [Int] = []
        let target = partition(of: client)
        for index in events.indices {
            // Judged as ingested when it occurred: the stamp is a function of the event alone, so
            // a retried event is the same bytes (the projector, which sees the log's time, still
            // judges timeliness for itself).
            let assessment = DataQuality.stamp(&events[index], ingestedAt: events[index].occurredAt.flatMap(Instant.init) ?? .now)
            let event = events[index]
            if !assessment.failedCritical.isEmpty {
                Log.error("event-recorder", "REFUSED event \(event.eventId) (\(event.eventType.protoName ?? "?") of \(event.aggregateId)): "
                          + assessment.details.joined(separator: "; "))
                results[index] = RPCError(.internal, "the service built an event that fails the data-quality rules "
                    + assessment.failedCritical.joined(separator: ", ") + "; nothing was recorded: " + assessment.details.joined(separator: "; "))
                continue
            }
            if let lag = gate.reserve(target) {
                results[index] = RPCError(.unavailable,
                    "the projection is \(lag.events) events behind on \(target) (limit \(gate.maxLag)); write refused, retry later")
                continue
            }
            records.append(OutgoingRecord(
                topic: topic, partition: target.partition, key: Array(event.aggregateId.utf8), value: event.serializedBytes(),
                headers: [("event-type", Array((event.eventType.protoName ?? "EVENT_TYPE_UNSPECIFIED").utf8)),
                          ("schema-version", Array(String(event.schemaVersion).utf8))]))
            sent.append(index)
        }
        guard !records.isEmpty else { return Outcome(results: results, uncertain: []) }
        let deliveries = await producer.send(records)
        var uncertain = false
        var committedUpTo: Int64?
        for (index, result) in zip(sent, deliveries) {
            switch result {
            case .success(let delivery) where delivery.offset < 0:
                // An acknowledgement without an offset is the broker calling the record a duplicate of
                // an earlier attempt. librdkafka 2.0.2 (Debian 12) can get there after a "possibly
                // persisted" error for a record that was never written (fixed upstream in 2.3.0,
                // librdkafka#4438), so it is not proof: confirm against the log like a timeout.
                gate.release(target, acknowledgedOffset: nil)
                uncertain = true
                results[index] = KafkaError(code: -1, message: "the broker acknowledged \(events[index].eventId) as a duplicate without an offset",
                                            possiblyPersisted: true)
            case .success(let delivery):
                gate.release(target, acknowledgedOffset: delivery.offset)
                committedUpTo = max(committedUpTo ?? 0, delivery.offset + 1)
            case .failure(let error):
                gate.release(target, acknowledgedOffset: nil)
                if error.possiblyPersisted { uncertain = true }
                results[index] = error
            }
        }
        if let durableTimeout = ackAfterProjection, let end = committedUpTo {
            // The embedded broker keeps the log in this process's memory: a write is durable only
            // once Postgres holds it, so that is when it is acknowledged.
            if await gate.waitProjected([target: end], timeout: durableTimeout) {
                // Committed, unless the projector dead-lettered it (another producer's event of the
                // aggregate got there first): then it waits with that one and is not applied here.
                for index in sent where results[index] == nil && gate.isQuarantined(events[index].aggregateId) {
                    results[index] = RPCError(.failedPrecondition,
                        "\(events[index].aggregateId) has an event in the dead-letter table; this write waits there with it "
                        + "and applies only if an operator replays them")
                }
            } else {
                for index in sent where results[index] == nil {
                    results[index] = RPCError(.deadlineExceeded,
                        "the write is in the embedded broker's log but Postgres has not committed it yet (is Postgres down?); "
                        + "its outcome is unknown until then: retry with the same request_id to learn it")
                }
                uncertain = true
            }
        }
        return Outcome(results: results, uncertain: uncertain ? [target] : [])
    }

    /// Waits until the projector stored `targets` up to their current ends.
    func waitStored(_ targets: [PartitionKey]) async throws {
        let producer = self.producer
        let highs = try await Blocking.run {
            try Dictionary(uniqueKeysWithValues: targets.map { ($0, try producer.watermarks(topic: $0.topic, partition: $0.partition).high) })
        }
        while !(await gate.waitProjected(highs, timeout: .seconds(5))) {}
    }
}
