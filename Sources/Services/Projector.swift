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
/// Postgres is unreachable it keeps the batch, waits and retries; it never skips. A record
/// that cannot be applied (a data error, not an outage) never holds the partition: it goes
/// to the dead-letter table and topic with its reason, and the rest flows.
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
    private let openDeadLetters = Atomic<Int>(0)
    private var started = false
    /// The positions this projector last wrote (its thread only).
    private let cache = PositionCache()
    /// Receives, after each batch's commit, its dead letters (for the dead-letter topic) and
    /// its OpenLineage run events (for the lineage topic).
    private let noticeSink: (@Sendable ([OutgoingRecord]) -> Void)?
    private let namespaces: OpenLineage.Namespaces
    /// The lineage run in progress: the batches of up to a second (this projector's thread only).
    private var window: LineageWindow?
    private var windowOpenedAt = ContinuousClock.now
    /// Read models' latest applied event times not saved yet, and when they were last saved:
    /// view_freshness is written at most once a second (this projector's thread only).
    private var pendingFreshness: [String: Instant] = [:]
    private var freshnessSavedAt = ContinuousClock.now
    static let windowLength: Duration = .seconds(1)

    public init(configuration: KafkaConfiguration, bootstrap: String, databaseURL: String, gate: ProjectionGate,
                noticeSink: (@Sendable ([OutgoingRecord]) -> Void)? = nil) {
        self.noticeSink = noticeSink
        namespaces = OpenLineage.Namespaces(bootstrap: bootstrap, databaseURL: databaseURL)
        self.configuration = configuration
        self.bootstrap = bootstrap
        self.databaseURL = databaseURL
        self.gate = gate
    }

    /// True once the group assigned partitions to this projector (it is then following the log).
    public var isAssigned: Bool { assigned.load(ordering: .relaxed) }

    /// Records of the log waiting in the dead-letter table: the projection is degraded while
    /// this is above 0 (health reports it).
    public var deadLetterCount: Int { openDeadLetters.load(ordering: .relaxed) }

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
                    let fresh = try PostgresConnection(url: databaseURL)
                    // Every statement of the projector looks rows up by key (= ANY of ids, joins with
                    // unnest on primary keys). On a young or fast-growing table the planner's stale
                    // row counts made it scan positions and lots whole for each batch, a cost that grew
                    // with the table until autoanalyze caught up; the indexes are always right here.
                    try fresh.executeScript("SET enable_seqscan = off")
                    connection = fresh
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
        while let db = connected() {
            do {
                try replayDeadLetters(on: db)
                try backfillQuality(on: db)
                // What stays dead blocks its aggregates; later dead letters are added as they come.
                gate.quarantine(try ReadModels.quarantinedAggregates(on: db))
                refreshDeadLetterCount(on: db)
                break
            } catch {
                Log.error("projector", "replaying dead letters: \(error); retrying")
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
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
            guard !records.isEmpty else {
                idle(connection)
                continue
            }
            var delay = 0.05
            while let db = connected() {
                do {
                    try store(records, group: group, on: db)
                    break
                } catch let error as PostgresError where Self.isDataError(error) {
                    // Not an outage: something in the batch Postgres or the read models refuse. Never
                    // retried as is: each record alone, and the one that fails alone is a dead letter.
                    Log.error("projector", "batch of \(records.count) hit a data error (\(error)); storing its records one by one")
                    do {
                        for record in records { try storeAlone(record, group: group, on: db) }
                        break
                    } catch {
                        Log.error("projector", "batch of \(records.count) not stored (\(error)); retrying in \(Int(delay * 1000)) ms")
                    }
                } catch {
                    Log.error("projector", "batch of \(records.count) not stored (\(error)); retrying in \(Int(delay * 1000)) ms")
                }
                Thread.sleep(forTimeInterval: delay)
                delay = min(1, delay * 2)
            }
        }
        closeWindow()
        if let db = connection, db.isHealthy, !pendingFreshness.isEmpty { try? ReadModels.saveFreshness(pendingFreshness, on: db) }
        consumer.close()
        Log.info("projector", "stopped")
    }

    /// Stores a batch and tells the gate (quarantined aggregates first, then the offsets reached).
    private func store(_ records: [ConsumedRecord], group: String, on db: PostgresConnection) throws {
        let started = Instant.now
        let report = ProjectionReport()
        let (reached, letters) = try apply(records, group: group, report: report, on: db)
        HoldingsMetrics.shared.projected(report.accepted, keptOut: letters)
        if window == nil {
            window = LineageWindow(started: started)
            windowOpenedAt = ContinuousClock.now
        }
        window?.add(report)
        if ContinuousClock.now - windowOpenedAt >= Self.windowLength { closeWindow() }
        gate.quarantine(letters.filter(\.blocksAggregate).compactMap { $0.event?.aggregateId })
        for (partition, next) in reached { gate.projected(partition, next: next) }
        if !letters.isEmpty { announce(letters, on: db) }
    }

    /// Ends the lineage run in progress and sends its run events.
    private func closeWindow() {
        guard let window else { return }
        self.window = nil
        noticeSink?(OpenLineage.records(window: window, closed: .now, topic: configuration.topics.lineage,
                                        sourceTopics: configuration.topics.all, namespaces: namespaces))
    }

    /// Between batches: closes a lineage window and saves freshness that are a second old.
    private func idle(_ connection: PostgresConnection?) {
        if ContinuousClock.now - windowOpenedAt >= Self.windowLength { closeWindow() }
        guard !pendingFreshness.isEmpty, ContinuousClock.now - freshnessSavedAt >= Self.windowLength,
              let db = connection, db.isHealthy else { return }
        if (try? ReadModels.saveFreshness(pendingFreshness, on: db)) != nil {
            pendingFreshness = [:]
            freshnessSavedAt = ContinuousClock.now
        }
    }

    /// One record of a batch that hit a data error: stored, or, when it fails alone with a
    /// data error, dead-lettered with that error (its aggregate blocked) and passed.
    private func storeAlone(_ record: ConsumedRecord, group: String, on db: PostgresConnection) throws {
        do {
            try store([record], group: group, on: db)
        } catch let error as PostgresError where Self.isDataError(error) {
            let event = try? Self.decode(record).get()
            let letter = DeadLetter(topic: record.topic, partition: record.partition, offset: record.offset, body: record.value,
                                    event: event, reason: "the projection failed on it: \(error)")
            let key = PartitionKey(topic: record.topic, partition: record.partition)
            try db.transaction {
                try ReadModels.saveDeadLetters([letter], on: db)
                try ReadModels.saveOffsets(group: group, [key: record.offset + 1], on: db)
            }
            gate.quarantine([event?.aggregateId].compactMap { $0 })
            gate.projected(key, next: record.offset + 1)
            HoldingsMetrics.shared.projected([], keptOut: [letter])
            announce([letter], on: db)
        }
    }

    /// A statement Postgres refused for the data (SQLSTATE class 22 data exception, 23
    /// integrity constraint) or a read-model row we cannot read: not worth retrying as is.
    /// Connection losses, shutdowns, resources and serialization failures are outages.
    static func isDataError(_ error: PostgresError) -> Bool {
        guard error.kind == .statement else { return false }
        return error.sqlState.isEmpty || error.sqlState.hasPrefix("22") || error.sqlState.hasPrefix("23")
    }

    /// Stores one batch in one transaction; returns the next offset of every partition in it.
    private func apply(_ records: [ConsumedRecord], group: String, report: ProjectionReport,
                       on db: PostgresConnection) throws -> (reached: [PartitionKey: Int64], letters: [DeadLetter]) {
        var reached: [PartitionKey: Int64] = [:]
        var times: [PartitionKey: Int64] = [:]
        for record in records {
            let key = PartitionKey(topic: record.topic, partition: record.partition)
            reached[key] = max(reached[key] ?? 0, record.offset + 1)
            if let time = record.timestampMilliseconds { times[key] = max(times[key] ?? time, time) }
        }
        let (candidates, dead) = Self.decodeAll(records)
        var freshness = pendingFreshness
        let due = ContinuousClock.now - freshnessSavedAt >= Self.windowLength
        let letters = try db.transaction {
            report.accepted = []
            report.latest = [:]
            let letters = dead + (try Self.project(candidates, blocked: gate.quarantined, cache: cache, report: report, on: db))
            report.keptOut = letters
            freshness.merge(report.latest) { max($0, $1) }
            try ReadModels.saveDeadLetters(letters, on: db)
            try ReadModels.saveOffsets(group: group, reached, times: times, on: db)
            if due { try ReadModels.saveFreshness(freshness, on: db) }
            return letters
        }
        pendingFreshness = due ? [:] : freshness
        if due { freshnessSavedAt = ContinuousClock.now }
        return (reached, letters)
    }

    /// Replays the open dead letters in log order (an operator restarts the projector with a
    /// fixed build): those that apply now join the audit trail and the read models and are
    /// marked replayed; the others stay, with the reason they fail for now.
    private func replayDeadLetters(on db: PostgresConnection) throws {
        let open = try ReadModels.openDeadLetters(on: db)
        guard !open.isEmpty else { return }
        var (candidates, undecodable) = Self.decodeAll(open.map {
            ConsumedRecord(topic: $0.topic, partition: $0.partition, offset: $0.offset, key: [], value: $0.body, headers: [:],
                           timestampMilliseconds: $0.ingestedAt.map { $0.microseconds / 1000 })
        })
        // An aggregate's events in version order (another producer may have written them out of
        // order: version 3 dead-lettered before version 2 arrived); aggregates in log order.
        let firstOffset = Dictionary(candidates.map { ($0.event.aggregateId, $0.offset) }, uniquingKeysWith: min)
        candidates.sort {
            ($0.topic, firstOffset[$0.event.aggregateId] ?? 0, $0.event.aggregateId, $0.event.aggregateVersion)
                < ($1.topic, firstOffset[$1.event.aggregateId] ?? 0, $1.event.aggregateId, $1.event.aggregateVersion)
        }
        let stillDead = try db.transaction {
            let failed = undecodable + (try Self.project(candidates, blocked: [], on: db))
            let failing = Set(failed.map { "\($0.topic)/\($0.partition)/\($0.offset)" })
            try ReadModels.markReplayed(open.filter { !failing.contains("\($0.topic)/\($0.partition)/\($0.offset)") }, on: db)
            try ReadModels.saveDeadLetters(failed, on: db)
            return failed
        }
        Log.info("projector", "dead letters replayed: \(open.count - stillDead.count) of \(open.count) applied; \(stillDead.count) still fail")
    }

    /// Scores the events stored before quality existed (migration 0009), judged as ingested
    /// when the projector recorded them, and fills their lineage ids from their bodies.
    private func backfillQuality(on db: PostgresConnection) throws {
        var total = 0
        while !isStopping {
            let rows = try ReadModels.unscoredEvents(limit: 1_000, on: db)
            guard !rows.isEmpty else { break }
            try ReadModels.saveBackfill(rows.map { row in
                guard let event = try? Ultracore_Holdings_V1_Event(serializedBytes: row.body) else {
                    return (row.id, 0, [DataQuality.envelopeComplete.name], "", "")
                }
                let assessment = DataQuality.assess(event, ingestedAt: row.recordedAt)
                return (row.id, assessment.score, assessment.failed, event.correlationId, event.causationId)
            }, on: db)
            total += rows.count
        }
        if total > 0 { Log.info("projector", "scored \(total) events stored before data quality existed") }
    }

    /// Records as events to project, and those that are not events as dead letters.
    static func decodeAll(_ records: [ConsumedRecord]) -> (events: [ReadModels.Recorded], dead: [DeadLetter]) {
        var events: [ReadModels.Recorded] = []
        var dead: [DeadLetter] = []
        for record in records {
            let ingestedAt = record.timestampMilliseconds.map { Instant(microseconds: $0 &* 1000) }
            switch decode(record) {
            case .success(let event):
                events.append(ReadModels.Recorded(event: event, body: record.value, topic: record.topic,
                                                  partition: record.partition, offset: record.offset, ingestedAt: ingestedAt))
            case .failure(let rejection):
                dead.append(DeadLetter(topic: record.topic, partition: record.partition, offset: record.offset,
                                       body: record.value, event: nil, reason: rejection.reason, ingestedAt: ingestedAt))
            }
        }
        return (events, dead)
    }

    /// Logs each dead letter loudly, counts them for health, and copies them to the
    /// dead-letter topic (the table is the record; the topic is the notice to operators).
    private func announce(_ letters: [DeadLetter], on db: PostgresConnection) {
        for letter in letters {
            Log.error("projector", "DEAD LETTER \(letter.topic)[\(letter.partition)]@\(letter.offset) "
                      + "\(letter.event.map { "event \($0.eventId) (\($0.aggregateId) v\($0.aggregateVersion))" } ?? "record"): \(letter.reason)",
                      letter.event.map { [("client_id", $0.clientId), ("event_id", $0.eventId)] } ?? [])
        }
        refreshDeadLetterCount(on: db)
        noticeSink?(letters.map { letter in
            var headers: [(String, [UInt8])] = [("dead-letter-reason", Array(letter.reason.utf8)),
                                                ("source-topic", Array(letter.topic.utf8)),
                                                ("source-partition", Array(String(letter.partition).utf8)),
                                                ("source-offset", Array(String(letter.offset).utf8))]
            if let event = letter.event { headers.append(("event-id", Array(event.eventId.utf8))) }
            if !letter.failedRules.isEmpty { headers.append(("failed-quality-rules", Array(letter.failedRules.joined(separator: ",").utf8))) }
            return OutgoingRecord(topic: configuration.topics.deadLetters, partition: -1,
                                  key: Array((letter.event?.aggregateId ?? "").utf8), value: letter.body, headers: headers)
        })
    }

    private func refreshDeadLetterCount(on db: PostgresConnection) {
        if let count = try? ReadModels.openDeadLetterCount(on: db) {
            openDeadLetters.store(count, ordering: .relaxed)
            HoldingsMetrics.shared.deadLetters(open: count)
        }
    }

    /// Applies decoded events in log order inside the caller's transaction: the audit trail,
    /// the positions and lots, valuations, runs and schedules. Returns the events that cannot
    /// be applied, as dead letters, without storing them: an event already in the trail is
    /// skipped (a replay), one whose (aggregate, version) is taken by another event, one that
    /// does not fit its aggregate (``PositionState/next(_:_:)``, the write model's function),
    /// and every later event of an aggregate `blocked` by an earlier dead letter.
    static func project(_ candidates: [ReadModels.Recorded], blocked initiallyBlocked: Set<String>,
                        cache: PositionCache = PositionCache(maxWeight: 0), report: ProjectionReport? = nil,
                        on db: PostgresConnection) throws -> [DeadLetter] {
        let known = try ReadModels.knownEventIds(candidates.map(\.event.eventId), on: db)
        var fresh: [ReadModels.Recorded] = []
        var reused: [ReadModels.Recorded] = []
        var batchBodies: [String: [UInt8]] = [:]
        for item in candidates {
            if let digest = known[item.event.eventId] {
                // The same body again is a replay (skipped); another body under a taken id is not.
                if digest != Digest.sha256Hex(item.body) { reused.append(item) }
            } else if let earlier = batchBodies[item.event.eventId] {
                if earlier != item.body { reused.append(item) }  // the same id twice in this batch
            } else {
                batchBodies[item.event.eventId] = item.body
                fresh.append(item)
            }
        }
        var taken = try ReadModels.takenVersions(fresh.map(\.event), on: db)
        var blocked = initiallyBlocked
        let touched = Array(Set(fresh.filter { RebalancingEvents.isPositionEvent($0.event) }.map(\.event.aggregateId)))
        var stored = try cache.load(touched, on: db)
        var positions = stored
        var changed = Set<String>()
        var dead: [DeadLetter] = []
        var pending: [ReadModels.Recorded] = []
        /// Valuations of positions never priced: worth their cost basis (the one valuation rule).
        var atCost: [ReadModels.Valuation] = []
        /// Per read model, the latest occurred_at of the events applied to it in this batch.
        var latest: [String: Instant] = [:]

        func deadLetter(_ item: ReadModels.Recorded, _ reason: String, failedRules: [String] = []) {
            let letter = DeadLetter(topic: item.topic, partition: item.partition, offset: item.offset, body: item.body,
                                    event: item.event, reason: reason, failedRules: failedRules, ingestedAt: item.ingestedAt)
            dead.append(letter)
            if letter.blocksAggregate { blocked.insert(item.event.aggregateId) }
        }
        for item in reused {
            deadLetter(item, "quarantined: failed data-quality rule unique_ids: event id \(item.event.eventId) is taken by another event",
                       failedRules: [DataQuality.uniqueIds.name])
        }
        /// Writes the accepted events so far (a run's settlement reads its trades from the trail).
        func flush() throws {
            guard !pending.isEmpty else { return }
            let new = try ReadModels.insertEvents(pending, on: db)
            let ids = Set(new.map(\.event.eventId))
            try ReadModels.insertValuations(new.compactMap(ReadModels.Valuation.init) + atCost.filter { ids.contains($0.eventId) }, on: db)
            pending.removeAll()
            atCost.removeAll()
        }
        /// The first outcome of a run in the log decides (COMPLETED and ABORTED are both its
        /// version 2): a complete COMPLETED applies every trade, anything else voids them.
        func settleRun(_ run: String, client: String, expected: Int?, event: Ultracore_Holdings_V1_Event) throws {
            try flush()
            let trades = try ReadModels.runTrades(run, on: db)
            let completed = expected == trades.count
            let missing = trades.map(\.aggregateId).filter { positions[$0] == nil }
            if !missing.isEmpty {
                let loaded = try cache.load(Array(Set(missing)), on: db)
                stored.merge(loaded) { current, _ in current }
                positions.merge(loaded) { current, _ in current }
            }
            var closings: [ReadModels.Valuation] = []
            for var trade in trades {
                if !completed { trade.attributes[RebalancingEvents.voidAttribute] = "true" }
                if !completed && positions[trade.aggregateId] == nil { continue }  // a void buy that would have opened a position
                do {
                    guard !blocked.contains(trade.aggregateId) else {
                        throw DomainError.inconsistentEvent("follows a dead-lettered event of \(trade.aggregateId)")
                    }
                    positions[trade.aggregateId] = try PositionState.next(positions[trade.aggregateId], trade)
                    changed.insert(trade.aggregateId)
                } catch {
                    // The trade is in the trail (it was recorded when it arrived); its effect waits here.
                    Log.error("projector", "trade \(trade.eventId) of run \(run) cannot be applied: \(error)")
                    dead.append(DeadLetter(topic: "settlement:\(run)", partition: 0, offset: trade.aggregateVersion,
                                           body: trade.serializedBytes(), event: trade, reason: "\(error)"))
                    blocked.insert(trade.aggregateId)
                    continue
                }
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

        for item in fresh {
            let event = item.event
            let critical = item.quality.failedCritical
            if !critical.isEmpty {
                deadLetter(item, "quarantined: failed data-quality rules " + critical.joined(separator: ", ") + ": "
                           + item.quality.details.joined(separator: "; "), failedRules: critical)
                continue
            }
            if blocked.contains(event.aggregateId) {
                deadLetter(item, "follows a dead-lettered event of \(event.aggregateId); replayed with it")
                continue
            }
            let version = event.aggregateId + "\u{1}" + String(event.aggregateVersion)
            if taken.contains(version) {
                deadLetter(item, "version \(event.aggregateVersion) of \(event.aggregateId) is already taken by another event")
                continue
            }
            switch event.payload {
            case .tradeExecuted?:
                break  // applied (or voided) when its run's outcome arrives
            case _ where RebalancingEvents.isPositionEvent(event):
                do {
                    let position = try PositionState.next(positions[event.aggregateId], event)
                    positions[event.aggregateId] = position
                    changed.insert(event.aggregateId)
                    try ReadModels.recordWashSales(of: event, ticker: position.ticker, on: db)
                    if position.lastPrice == nil, position.status == .open, let at = Self.tradeTime(of: event) {
                        atCost.append(ReadModels.Valuation(eventId: event.eventId, client: event.clientId, position: event.aggregateId,
                                                           at: at, marketValue: position.costBasis, offset: item.offset))
                    }
                } catch {
                    deadLetter(item, "does not apply to \(event.aggregateId): \(error)")
                    continue
                }
            default:
                break
            }
            taken.insert(version)
            pending.append(item)
            report?.accepted.append(item)
            if let at = event.occurredAt.flatMap(Instant.init) {
                for view in DataProducts.views(fedBy: event.eventType) { latest[view] = max(latest[view] ?? at, at) }
            }
            switch event.payload {
            case .rebalancingCompleted(let completed)?:
                try settleRun(completed.rebalancingId, client: event.clientId, expected: Int(completed.tradeCount), event: event)
            case .rebalancingAborted(let aborted)?:
                try settleRun(aborted.rebalancingId, client: event.clientId, expected: nil, event: event)
            case .rebalancingScheduled(let scheduled)?:
                try ReadModels.saveSchedule(scheduled.schedule ?? .init(), version: event.aggregateVersion, on: db)
            case .policyTrained?:
                try ReadModels.savePolicy(event, on: db)
            case .agentAlert?, .alertAcknowledged?:
                try ReadModels.applyAlertEvent(event, on: db)
            default:
                break
            }
        }
        try flush()
        let saved = changed.sorted().compactMap { positions[$0] }
        try ReadModels.savePositions(saved, before: stored, on: db)
        for position in saved { cache.remember(position) }
        if let report { report.latest.merge(latest) { max($0, $1) } } else { try ReadModels.saveFreshness(latest, on: db) }
        return dead
    }

    /// When a position event takes effect for the valuation history: a buy at its lot's
    /// acquisition, a sale at its trade time, a corporate action when effective.
    static func tradeTime(of event: Ultracore_Holdings_V1_Event) -> Instant? {
        let stamp: Google_Protobuf_Timestamp?
        switch event.payload {
        case .positionOpened(let opened)?: stamp = opened.lot?.acquiredAt
        case .lotAdded(let added)?: stamp = added.lot?.acquiredAt
        case .lotsSold(let sold)?: stamp = sold.soldAt
        case .positionClosed(let closed)?: stamp = closed.closedAt
        case .corporateActionApplied(let applied)?: stamp = applied.effectiveAt
        default: stamp = event.occurredAt
        }
        return stamp.flatMap(Instant.init)
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
    /// A version-4 UUID from the system generator (getrandom(2)). Foundation's UUID() opened
    /// /dev/urandom on every call on Linux: two open/read/close rounds per write.
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40  // version 4
            raw[8] = (raw[8] & 0x3F) | 0x80  // RFC 4122 variant
            // Foundation formats it; only its random UUID() reads /dev/urandom.
            return UUID(uuid: raw.load(as: uuid_t.self)).uuidString.lowercased()
        }
    }

    static func isValid(_ text: String) -> Bool { Validation.isUUID(text) }
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
