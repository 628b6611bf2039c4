import Domain
import EventLog
import Foundation
import HoldingsProto
import Store
import Synchronization

/// The projector: a member of the consumer group over every event topic. Each polled
/// batch goes to Postgres in one transaction — the events (audit trail, unique by
/// (aggregate_id, aggregate_version)), the read models they change, and the offsets
/// reached — so a crash at any point replays nothing twice and loses nothing. It starts
/// each partition from the offset stored in Postgres.
///
/// Runs on its own thread: every call in it blocks (libpq, the consumer poll). When
/// Postgres is unreachable it keeps the batch, waits and retries; it never skips.
///
/// `@unchecked Sendable`: the mutable state is the stop flag (atomic) and the thread,
/// set once in `start`.
public final class Projector: @unchecked Sendable {
    private let configuration: KafkaConfiguration
    private let bootstrap: String
    private let databaseURL: String
    private let gate: ProjectionGate
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let failure = Mutex<String?>(nil)
    private let assigned = Atomic<Bool>(false)
    private var started = false

    public init(configuration: KafkaConfiguration, bootstrap: String, databaseURL: String, gate: ProjectionGate) {
        self.configuration = configuration
        self.bootstrap = bootstrap
        self.databaseURL = databaseURL
        self.gate = gate
    }

    /// True once the group assigned partitions to this projector (it is then following the log).
    public var isAssigned: Bool { assigned.load(ordering: .relaxed) }

    /// A fatal error that stopped the projector (events missing from the log), if any.
    public var fatalError: String? { failure.withLock { $0 } }

    public func start() {
        precondition(!started, "projector started twice")
        started = true
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "projector"
        thread.start()
    }

    /// Stops after the batch in progress (committed or rolled back) and leaves the group.
    public func stop() {
        guard started else { return }
        stopping.store(true, ordering: .relaxed)
        finished.wait()
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    private func run() {
        var connection: PostgresConnection?
        func connected() -> PostgresConnection? {
            var delay = 0.05
            while !isStopping {
                if let connection, connection.isHealthy { return connection }
                do {
                    connection = try PostgresConnection(url: databaseURL)
                    return connection
                } catch {
                    Log.error("projector", "postgres unavailable (\(error)); retrying in \(Int(delay * 1000)) ms")
                    Thread.sleep(forTimeInterval: delay)
                    delay = min(1, delay * 2)
                }
            }
            return nil
        }
        let offsetsKeyBox = Mutex<String>("")
        let consumer: EventConsumer
        do {
            consumer = try EventConsumer(configuration: configuration, bootstrap: bootstrap, topics: configuration.topics.all) {
                [self] partitions in
                // Called inside poll when the group assigns partitions: start where Postgres says.
                while let db = connected() {
                    do {
                        let stored = try ReadModels.loadOffsets(group: offsetsKeyBox.withLock { $0 }, on: db)
                        Log.info("projector", "assigned \(partitions.count) partitions; resuming from stored offsets")
                        assigned.store(true, ordering: .relaxed)
                        return partitions.map { assigned in
                            let key = PartitionKey(topic: assigned.topic, partition: assigned.partition)
                            let offset = stored[key] ?? 0
                            gate.projected(key, next: offset)
                            return (assigned.topic, assigned.partition, offset)
                        }
                    } catch {
                        Log.error("projector", "cannot read stored offsets (\(error)); retrying")
                        Thread.sleep(forTimeInterval: 0.2)
                    }
                }
                return []
            }
        } catch {
            failure.withLock { $0 = "\(error)" }
            Log.error("projector", "cannot join the consumer group: \(error)")
            return
        }
        let group: String
        do {
            group = try OffsetsKey.of(group: configuration.projectorGroup, clusterId: consumer.clusterId())
        } catch {
            failure.withLock { $0 = "\(error)" }
            Log.error("projector", "cannot identify the cluster: \(error)")
            return
        }
        offsetsKeyBox.withLock { $0 = group }
        Log.info("projector", "consumer group \(configuration.projectorGroup) on \(bootstrap); offsets stored as \(group)")
        while !isStopping {
            let records: [ConsumedRecord]
            do {
                records = try consumer.poll(maxRecords: 2000, timeoutMilliseconds: 100) { error in
                    Log.error("projector", "\(error)")
                }
            } catch {
                let message = "the log no longer holds events the projector has not stored (\(error)); stopping"
                failure.withLock { $0 = message }
                Log.error("projector", message)
                break
            }
            guard !records.isEmpty else { continue }
            var delay = 0.05
            while let db = connected() {
                do {
                    let reached = try apply(records, group: group, on: db)
                    for (partition, next) in reached { gate.projected(partition, next: next) }
                    break
                } catch {
                    Log.error("projector", "batch of \(records.count) not stored (\(error)); retrying in \(Int(delay * 1000)) ms")
                    Thread.sleep(forTimeInterval: delay)
                    delay = min(1, delay * 2)
                }
            }
        }
        consumer.close()
        Log.info("projector", "stopped")
    }

    /// Stores one batch in one transaction; returns the next offset of every partition in it.
    private func apply(_ records: [ConsumedRecord], group: String, on db: PostgresConnection) throws -> [PartitionKey: Int64] {
        var reached: [PartitionKey: Int64] = [:]
        var recorded: [ReadModels.Recorded] = []
        var rejected: [(ConsumedRecord, String)] = []
        for record in records {
            let key = PartitionKey(topic: record.topic, partition: record.partition)
            reached[key] = max(reached[key] ?? 0, record.offset + 1)
            switch Self.decode(record) {
            case .success(let event):
                recorded.append(ReadModels.Recorded(event: event, body: record.value, topic: record.topic,
                                                    partition: record.partition, offset: record.offset))
            case .failure(let rejection):
                rejected.append((record, rejection.reason))
            }
        }
        try db.transaction {
            let new = try ReadModels.insertEvents(recorded, on: db)
            try ReadModels.insertValuations(new.compactMap(ReadModels.Valuation.init), on: db)
            let touched = Array(Set(new.filter { RebalancingEvents.isPositionEvent($0.event) }.map(\.event.aggregateId)))
            var stored = try ReadModels.loadPositions(touched, on: db)
            var positions = stored
            var changed = Set<String>()
            func apply(_ event: Ultracore_Holdings_V1_Event) {
                do {
                    if let existing = positions[event.aggregateId] {
                        var position = existing
                        try position.apply(event)
                        positions[event.aggregateId] = position
                    } else {
                        if RebalancingEvents.isVoid(event) { return }  // a void buy that would have opened a position
                        positions[event.aggregateId] = try PositionState.opened(by: event)
                    }
                    changed.insert(event.aggregateId)
                } catch {
                    // Kept in the audit trail; the read model stays at the last event that fit.
                    Log.error("projector", "event \(event.eventId) not applied to the read model: \(error)")
                }
            }
            /// The first outcome of a run in the log decides (COMPLETED and ABORTED are both its
            /// version 2): a complete COMPLETED applies every trade, anything else voids them.
            func settleRun(_ run: String, client: String, expected: Int?, event: Ultracore_Holdings_V1_Event) throws {
                let trades = try ReadModels.runTrades(run, on: db)
                let completed = expected == trades.count
                let missing = trades.map(\.aggregateId).filter { positions[$0] == nil }
                if !missing.isEmpty {
                    let loaded = try ReadModels.loadPositions(Array(Set(missing)), on: db)
                    stored.merge(loaded) { current, _ in current }
                    positions.merge(loaded) { current, _ in current }
                }
                var closings: [ReadModels.Valuation] = []
                for var trade in trades {
                    if !completed { trade.attributes[RebalancingEvents.voidAttribute] = "true" }
                    apply(trade)
                    // A sale that closes the position: worth 0 from then on in the valuation history.
                    if completed, let position = positions[trade.aggregateId], position.status == .closed, position.version == trade.aggregateVersion {
                        closings.append(ReadModels.Valuation(eventId: trade.eventId, client: trade.clientId, position: trade.aggregateId,
                                                             at: position.closedAt ?? position.updatedAt, marketValue: .zero, offset: 0))
                    }
                }
                try ReadModels.insertValuations(closings, on: db)
                try ReadModels.recordRun(run, client: client, completed: completed,
                                         at: event.occurredAt.flatMap(Instant.init) ?? Instant(microseconds: 0), on: db)
                if !completed { Log.info("projector", "rebalancing \(run) of \(client) did not complete: its \(trades.count) trades are void") }
            }
            for item in new {
                let event = item.event
                switch event.payload {
                case .tradeExecuted?:
                    continue  // applied (or voided) when its run's outcome arrives
                case .rebalancingCompleted(let completed)?:
                    try settleRun(completed.rebalancingId, client: event.clientId, expected: Int(completed.tradeCount), event: event)
                case .rebalancingAborted(let aborted)?:
                    try settleRun(aborted.rebalancingId, client: event.clientId, expected: nil, event: event)
                case .rebalancingScheduled(let scheduled)?:
                    try ReadModels.saveSchedule(scheduled.schedule ?? .init(), version: event.aggregateVersion, on: db)
                case _ where RebalancingEvents.isPositionEvent(event):
                    apply(event)
                default:
                    continue  // audit trail only
                }
            }
            try ReadModels.savePositions(changed.sorted().compactMap { positions[$0] }, before: stored, on: db)
            for (record, reason) in rejected {
                Log.error("projector", "\(record.topic)[\(record.partition)]@\(record.offset) rejected: \(reason)")
                try ReadModels.rejectRecord(record, reason: reason, on: db)
            }
            try ReadModels.saveOffsets(group: group, reached, on: db)
        }
        return reached
    }

    static func decode(_ record: ConsumedRecord) -> Result<Ultracore_Holdings_V1_Event, Rejection> {
        let event: Ultracore_Holdings_V1_Event
        do {
            event = try Ultracore_Holdings_V1_Event(serializedBytes: record.value)
        } catch {
            return .failure(Rejection("not an Event: \(error)"))
        }
        guard UUIDText.isValid(event.eventId) else { return .failure(Rejection("event_id '\(event.eventId.prefix(64))' is not a UUID")) }
        guard !event.aggregateId.isEmpty, event.aggregateVersion > 0 else { return .failure(Rejection("no aggregate id or version")) }
        guard event.occurredAt.flatMap(Instant.init) != nil else { return .failure(Rejection("no valid occurred_at")) }
        return .success(event)
    }
}

/// Lower-case UUID text: generation and checks.
enum UUIDText {
    static func random() -> String { UUID().uuidString.lowercased() }

    static func isValid(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70) else { return false }
            }
        }
        return true
    }
}

/// Why a record of an event topic is not an event the projector can store.
struct Rejection: Error {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Offsets in Postgres are kept per consumer group and per cluster: a log that starts
/// over (a new embedded broker) starts from offset 0, and an old offset is never applied
/// to another cluster's partitions.
enum OffsetsKey {
    static func of(group: String, clusterId: String) -> String { "\(group)@\(clusterId)" }
}
