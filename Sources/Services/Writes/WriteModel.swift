import Domain
import EventLog
import Foundation
import HoldingsProto
import RPCCore
import Store
import Synchronization

/// The command side: every client's book in memory (CommandExecutor: one writer per
/// client, events produced to Kafka and applied only once the log holds them), the
/// indexes across clients (PositionDirectory), and the multi-client batches (PublishPrices,
/// ApplyCorporateAction) that run one client at a time. Takes commands and answers with
/// positions and events; the handlers parse requests and build responses.
///
/// Rebuilt at start from the Postgres read models once the projector has stored the
/// whole Kafka tail (every offset below the high watermarks seen at start).
public final class WriteModel: Sendable {
    /// A write's outcome: the position after the event, and the event (the first outcome
    /// again for a retried request id).
    public struct PositionWrite: Sendable {
        public var position: PositionState
        public var event: Ultracore_Holdings_V1_Event
    }

    let executor: CommandExecutor<ClientBook>
    let directory: PositionDirectory
    let gate: ProjectionGate
    let topics: KafkaConfiguration.Topics
    let pool: PostgresPool
    let source: String
    let projectorGroup: String
    /// Multi-client request ids (PublishPrices, ApplyCorporateAction): those being executed,
    /// and PublishPrices outcomes.
    let batches = Mutex<(inFlight: Set<String>, records: [String: RequestRecord])>(([], [:]))
    /// Acknowledged events, live, for WatchEvents.
    public let broadcaster: EventBroadcaster
    /// Alerts being acknowledged now (one call per alert at a time).
    private let acknowledging = Mutex<Set<String>>([])
    func acknowledging(_ alertId: String) -> Bool { acknowledging.withLock { $0.insert(alertId).inserted } }
    func acknowledged(_ alertId: String) { acknowledging.withLock { _ = $0.remove(alertId) } }
    /// Trained DQN policies loaded in this process, and the training slot.
    let policyMemory = PolicyMemory()
    var policies: PolicyStore { PolicyStore(model: self, memory: policyMemory) }

    var recorder: EventRecorder { executor.recorder }
    /// Puts the monitoring agent's alerts and their acknowledgements on their topic.
    let alertRecorder: EventRecorder

    public init(producer: EventProducer, gate: ProjectionGate, topics: KafkaConfiguration.Topics, partitions: Int32,
                pool: PostgresPool, projectorGroup: String, watchBuffer: Int = 10_000, source: String = "holdingsd",
                ackAfterProjection: Duration? = nil, alertPartitions: Int32? = nil) {
        let broadcaster = EventBroadcaster(capacity: watchBuffer)
        let directory = PositionDirectory()
        self.broadcaster = broadcaster
        self.directory = directory
        self.projectorGroup = projectorGroup
        self.gate = gate
        self.topics = topics
        self.pool = pool
        self.source = source
        let recorder = EventRecorder(producer: producer, gate: gate, topic: topics.positions, partitions: partitions,
                                     ackAfterProjection: ackAfterProjection)
        alertRecorder = EventRecorder(producer: producer, gate: gate, topic: topics.agentAlerts, partitions: alertPartitions ?? partitions,
                                      ackAfterProjection: ackAfterProjection)
        executor = CommandExecutor(
            recorder: recorder,
            applied: { _, changes in
                for case .position(_, let after) in changes { directory.index(after) }
                broadcaster.publish(changes.map(\.event))
            },
            reload: { client in
                let loaded = try await pool.withConnection { try ReadModels.loadClient(client, on: $0) }
                for position in loaded.positions { directory.index(position) }
                return { book in
                    let reloaded = ClientBook(positions: loaded.positions, requests: loaded.requests,
                                              washLosses: loaded.washLosses,
                                              schedule: loaded.schedule.map { ClientBook.ScheduleEntry(schedule: $0.schedule, version: $0.version) } ?? book.schedule)
                    book.replacePositions(with: reloaded)
                    book.requests.merge(reloaded.requests) { current, _ in current }
                    book.washLosses = reloaded.washLosses
                    book.schedule = reloaded.schedule
                }
            })
    }

    // MARK: Rebuild

    /// The watermarks of every partition of the event topics, and the key under which the
    /// projector stores its offsets in this cluster.
    func logMarks() async throws -> (marks: [PartitionKey: (low: Int64, high: Int64)], offsetsKey: String) {
        let producer = recorder.producer
        let topics = self.topics
        let group = projectorGroup
        return try await Blocking.run {
            var marks: [PartitionKey: (low: Int64, high: Int64)] = [:]
            for topic in topics.all {
                for partition in 0..<(try producer.partitionCount(of: topic)) {
                    marks[PartitionKey(topic: topic, partition: partition)] = try producer.watermarks(topic: topic, partition: partition)
                }
            }
            return (marks, OffsetsKey.of(group: group, clusterId: try producer.clusterId()))
        }
    }

    /// Waits until the projector stored every event below the current high watermarks,
    /// then loads positions and request outcomes from Postgres. Throws when the log lost
    /// events the projector never stored.
    public func rebuild(progress: @escaping @Sendable (String) -> Void) async throws {
        let (marks, key) = try await logMarks()
        let stored = try await pool.withConnection { try ReadModels.loadOffsets(group: key, on: $0) }
        for (key, mark) in marks where mark.low > (stored[key] ?? 0) {
            throw RPCError(.dataLoss, "\(key): the log starts at offset \(mark.low) but Postgres holds events only below \(stored[key] ?? 0); events were lost")
        }
        let targets = marks.filter { $0.value.high > 0 }.mapValues(\.high)
        let tail = targets.reduce(Int64(0)) { $0 + $1.value - (stored[$1.key] ?? 0) }
        progress("rebuilding: \(tail) events in the Kafka tail after the stored offsets")
        while !(await gate.waitProjected(targets, timeout: .seconds(5))) {
            let behind = gate.projectedSnapshot
            let remaining = targets.reduce(Int64(0)) { $0 + max(0, $1.value - (behind[$1.key] ?? 0)) }
            progress("waiting for the projector: \(remaining) events of the tail not stored yet")
        }
        let positions = try await pool.withConnection { try ReadModels.loadPositions(nil, on: $0) }
        let requests = try await pool.withConnection { try ReadModels.loadRequests(on: $0) }
        let schedules = try await pool.withConnection { try ReadModels.loadSchedules(on: $0) }
        let quarantined = try await pool.withConnection { try ReadModels.quarantinedAggregates(on: $0) }
        let washLosses = try await pool.withConnection { try ReadModels.loadWashLosses(on: $0) }
        gate.quarantine(quarantined)
        var byClient: [String: [PositionState]] = [:]
        directory.removeAll()
        for position in positions.values {
            byClient[position.clientId, default: []].append(position)
            directory.index(position)
        }
        var scheduleOf: [String: ClientBook.ScheduleEntry] = [:]
        for (schedule, version) in schedules { scheduleOf[schedule.clientId] = ClientBook.ScheduleEntry(schedule: schedule, version: version) }
        var books: [String: ClientBook] = [:]
        for client in Set(byClient.keys).union(requests.keys).union(washLosses.keys).union(scheduleOf.keys) {
            books[client] = ClientBook(positions: byClient[client] ?? [], requests: requests[client] ?? [:],
                                       washLosses: washLosses[client] ?? [:], schedule: scheduleOf[client])
        }
        executor.states.replaceAll(books)
        let requestCount = requests.values.reduce(0) { $0 + $1.count }
        progress("write model rebuilt: \(positions.count) positions of \(books.count) clients, \(requestCount) request ids"
                 + (quarantined.isEmpty ? "" : ", \(quarantined.count) aggregates quarantined by dead letters"))
    }

    // MARK: Commands

    /// Runs one position command of `client`, batched with the client's other queued position
    /// commands (``CommandExecutor/batched(_:_:)``): a known `requestId` returns the first
    /// outcome (the position as of that event); otherwise `decide` (on the client's book)
    /// gives the event, which is recorded and applied.
    private func execute(client: String, requestId: String, fingerprint: String,
                         decide: @escaping @Sendable (borrowing ClientBook) throws -> Ultracore_Holdings_V1_Event) async throws -> PositionWrite {
        let command = CommandExecutor<ClientBook>.BatchedCommand { [self] book in
            do {
                if !requestId.isEmpty, let record = book.requests[requestId] {
                    guard case .event(let aggregate, let version, let eventId) = try record.matching(fingerprint) else {
                        throw RequestRecord.reused(requestId)
                    }
                    return .answer(.success(.replay(aggregate: aggregate, version: version, eventId: eventId)))
                }
                // Decide the event, then apply it with the function the projector uses: an event that
                // would not apply (or whose result leaves the documented ranges) is refused here,
                // before it is produced, so the log never holds what the read model cannot take.
                var event = try decide(book)
                try refuseIfQuarantined(event.aggregateId)
                let position = try PositionState.next(book.positions[event.aggregateId], event)
                if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
                var keys = ["aggregate:" + event.aggregateId, "ticker:" + position.ticker]
                if !requestId.isEmpty { keys.append("request:" + requestId) }
                return .record(.position(event, after: position), keys: keys)
            } catch {
                return .answer(.failure(error))
            }
        }
        switch try await executor.batched(client, command) {
        case .replay(let aggregate, let version, let eventId):
            return try await replay(aggregate: aggregate, version: version, eventId: eventId)
        case .recorded(.position(let event, let position)):
            return PositionWrite(position: position, event: event)
        case .recorded(.client):
            throw RPCError(.internal, "a position command recorded a client event")
        }
    }

    func context(_ method: String, requestId: String, now: Instant) -> EventContext {
        let eventId = UUIDText.random()
        if let cause = EventCause.current {
            return EventContext(eventId: eventId, occurredAt: now, correlationId: cause.correlationId, causationId: cause.eventId,
                                source: "\(source)/\(method)", requestId: requestId, actor: Principal.current?.description ?? "holdingsd")
        }
        return EventContext(
            eventId: eventId, occurredAt: now, correlationId: requestId.isEmpty ? eventId : requestId,
            causationId: requestId.isEmpty ? eventId : requestId, source: "\(source)/\(method)", requestId: requestId,
            actor: Principal.current?.description ?? "holdingsd")
    }

    /// Buys shares (HoldingsService.OpenPosition).
    public func open(_ command: OpenPositionCommand, requestId: String, fingerprint: String, now: Instant) async throws -> PositionWrite {
        let context = context("HoldingsService.OpenPosition", requestId: requestId, now: now)
        return try await execute(client: command.clientId, requestId: requestId, fingerprint: fingerprint) { book in
            try command.decide(existing: book.open(command.ticker), newPositionId: "pos-" + UUIDText.random(), context: context,
                               washLosses: book.washLosses[command.ticker] ?? [])
        }
    }

    /// Sells shares of a client's open position in a ticker (CostBasisService.SellLots);
    /// a dry run decides the same sale and records nothing.
    public func sell(_ command: SellCommand, client: String, ticker: String, dryRun: Bool, requestId: String, fingerprint: String,
                     now: Instant) async throws -> PositionWrite {
        let context = context("CostBasisService.SellLots", requestId: requestId, now: now)
        @Sendable func decide(_ book: borrowing ClientBook) throws -> Ultracore_Holdings_V1_Event {
            guard let position = book.open(ticker) else { throw RPCError(.notFound, "client \(client) holds no open \(ticker) position") }
            return try command.decide(position, context: context).event
        }
        if dryRun {
            // Exactly what the sale would answer (the position after it, realized gain, status,
            // version), minus the event.
            return try executor.read(client) { book in
                let event = try decide(book)
                return PositionWrite(position: try PositionState.next(book.positions[event.aggregateId], event), event: event)
            }
        }
        return try await execute(client: client, requestId: requestId, fingerprint: fingerprint, decide: decide)
    }

    /// Sells every share of a position (HoldingsService.ClosePosition).
    public func close(_ command: SellCommand, positionId: String, requestId: String, fingerprint: String, now: Instant) async throws -> PositionWrite {
        let context = context("HoldingsService.ClosePosition", requestId: requestId, now: now)
        return try await execute(client: try owner(of: positionId), requestId: requestId, fingerprint: fingerprint) { book in
            guard let position = book.positions[positionId] else { throw RPCError(.notFound, "position \(positionId) not found") }
            return try command.decide(position, context: context).event
        }
    }

    /// Marks a position to a price (HoldingsService.UpdatePositionValue).
    public func value(positionId: String, price: ExactDecimal, pricedAt: Instant, requestId: String, fingerprint: String,
                      now: Instant) async throws -> PositionWrite {
        let context = context("HoldingsService.UpdatePositionValue", requestId: requestId, now: now)
        return try await execute(client: try owner(of: positionId), requestId: requestId, fingerprint: fingerprint) { book in
            guard let position = book.positions[positionId] else { throw RPCError(.notFound, "position \(positionId) not found") }
            return try Valuation.decide(position, price: price, pricedAt: pricedAt, context: context)
        }
    }

    /// The outcome of a price batch: positions revalued (by this and earlier attempts of its
    /// request id) and the quoted tickers nobody holds.
    public struct PriceBatch: Sendable {
        public var revalued: Int
        public var unheld: [String]
    }

    /// Revalues every open position in the quoted tickers (HoldingsService.PublishPrices):
    /// one POSITION_VALUED per position, written by each client's writer, clients in parallel.
    /// A retry with the same request_id values only what the first attempt did not.
    /// `quotes` in request order.
    public func publish(_ quotes: [(ticker: String, price: ExactDecimal, at: Instant)], requestId: String, fingerprint: String,
                        now: Instant) async throws -> PriceBatch {
        var alreadyValued = Set<String>()
        if !requestId.isEmpty { try claimBatch(requestId) }
        defer { if !requestId.isEmpty { releaseBatch(requestId) } }
        if !requestId.isEmpty {
            if let known = batches.withLock({ $0.records[requestId] }) {
                guard case .batch(let done, let outcome) = try known.matching(fingerprint) else { throw RequestRecord.reused(requestId) }
                if let outcome { return PriceBatch(revalued: done.count, unheld: outcome) }
                alreadyValued = done
            } else {
                // Not seen since start: what did an earlier process record for it?
                try await waitForAuditTrail()
                let recorded = try await pool.withConnection { try ReadModels.valuationsOfRequest(requestId, on: $0) }
                if let digest = recorded.first?.digest, digest != fingerprint { throw RequestRecord.reused(requestId) }
                alreadyValued = Set(recorded.map(\.aggregateId))
            }
            recordBatch(requestId, fingerprint: fingerprint, done: alreadyValued, unheld: nil)
        }
        let byClient = holdersByClient(of: quotes.map(\.ticker), excluding: alreadyValued)
        let context = context("HoldingsService.PublishPrices", requestId: requestId, now: now)
        let quoted = Dictionary(quotes.map { ($0.ticker, (price: $0.price, at: $0.at)) }, uniquingKeysWith: { first, _ in first })
        let outcome = await applyToClients(byClient, requestId: requestId, fingerprint: fingerprint) { position in
            guard position.status == .open, let quote = quoted[position.ticker] else { return nil }
            var eventContext = context
            eventContext.eventId = UUIDText.random()
            return try Valuation.decide(position, price: quote.price, pricedAt: quote.at, context: eventContext)
        }
        let valuedNow = Set(outcome.recorded.map(\.aggregateId))
        let done = alreadyValued.union(valuedNow)
        if let error = outcome.error {
            if !requestId.isEmpty { recordBatch(requestId, fingerprint: fingerprint, done: done, unheld: nil) }
            throw error
        }
        let unheld = quotes.map(\.ticker).filter { directory.holders(of: $0).isEmpty }
        if !requestId.isEmpty { recordBatch(requestId, fingerprint: fingerprint, done: done, unheld: unheld) }
        return PriceBatch(revalued: done.count, unheld: unheld)
    }

    private func recordBatch(_ requestId: String, fingerprint: String, done: Set<String>, unheld: [String]?) {
        batches.withLock {
            $0.records[requestId] = RequestRecord(requestId: requestId, fingerprint: fingerprint, outcome: .batch(done: done, unheld: unheld))
        }
    }

    /// Decides and records one event per position of `ids` (positions of `client`) under the
    /// client's writer; returns the events recorded and the first failure.
    private func applyEach(_ ids: [String], of client: String, requestId: String, fingerprint: String,
                           decide: @Sendable (PositionState) throws -> Ultracore_Holdings_V1_Event?) async -> (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?) {
        do {
            return try await executor.write(client) { writer in
                var decisionError: (any Error)?
                // Each event decided and applied (the projector's function) before anything is produced.
                let changes: [ClientBook.Change] = writer.read { book in
                    ids.compactMap { id in
                        guard let position = book.positions[id] else { return nil }
                        do {
                            guard var event = try decide(position) else { return nil }
                            try self.refuseIfQuarantined(id)
                            if !requestId.isEmpty { event.attributes[EventAttributes.requestDigest] = fingerprint }
                            return .position(event, after: try PositionState.next(position, event))
                        } catch {
                            if decisionError == nil { decisionError = error }
                            return nil
                        }
                    }
                }
                let results = await writer.record(changes).results
                let recorded = zip(changes, results).compactMap { $1 == nil ? $0.event : nil }
                return (recorded, decisionError ?? results.compactMap { $0 }.first)
            }
        } catch {
            return ([], error)
        }
    }

    /// Runs `applyEach` for every client of `byClient`, 64 clients at a time.
    private func applyToClients(_ byClient: [String: [String]], requestId: String, fingerprint: String,
                                decide: @escaping @Sendable (PositionState) throws -> Ultracore_Holdings_V1_Event?) async -> (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?) {
        await withTaskGroup(of: (recorded: [Ultracore_Holdings_V1_Event], error: (any Error)?).self) { group in
            var pending = byClient.makeIterator()
            var running = 0
            var recorded: [Ultracore_Holdings_V1_Event] = []
            var firstError: (any Error)?
            func startNext() -> Bool {
                guard let (client, ids) = pending.next() else { return false }
                group.addTask { await self.applyEach(ids, of: client, requestId: requestId, fingerprint: fingerprint, decide: decide) }
                return true
            }
            while running < 64, startNext() { running += 1 }
            while let result = await group.next() {
                recorded += result.recorded
                if firstError == nil { firstError = result.error }
                if !startNext() { running -= 1 }
            }
            return (recorded, firstError)
        }
    }

    /// Applies a split or a dividend to every open position in the ticker
    /// (HoldingsService.ApplyCorporateAction): one CORPORATE_ACTION_APPLIED per position,
    /// all with one action id. A retry with the same request_id completes what the first
    /// attempt did not and returns every result (by position id).
    public func apply(_ action: CorporateAction, requestId: String, fingerprint: String, now: Instant) async throws
        -> (actionId: String, results: [Ultracore_Holdings_V1_CorporateActionApplied]) {
        var earlier: [Ultracore_Holdings_V1_CorporateActionApplied] = []
        if !requestId.isEmpty {
            try claimBatch(requestId)
        }
        defer { if !requestId.isEmpty { releaseBatch(requestId) } }
        if !requestId.isEmpty {
            try await waitForAuditTrail()
            let recorded = try await pool.withConnection { try ReadModels.corporateActionsOfRequest(requestId, on: $0) }
            if let digest = recorded.first?.digest, digest != fingerprint { throw RequestRecord.reused(requestId) }
            earlier = recorded.map(\.applied)
        }
        let actionId = earlier.first?.actionId ?? ("ca-" + UUIDText.random())
        let byClient = holdersByClient(of: [action.ticker], excluding: Set(earlier.map(\.positionId)))
        let context = context("HoldingsService.ApplyCorporateAction", requestId: requestId, now: now)
        // Refuse bad input (a split fraction without a cash-in-lieu price, …) before any holder is touched.
        for (client, ids) in byClient {
            let positions = executor.read(client) { book in ids.compactMap { book.positions[$0] } }
            for position in positions { _ = try action.decide(position, actionId: actionId, context: context) }
        }
        let (recorded, error) = await applyToClients(byClient, requestId: requestId, fingerprint: fingerprint) { position in
            var eventContext = context
            eventContext.eventId = UUIDText.random()
            return try action.decide(position, actionId: actionId, context: eventContext)
        }
        if let error { throw error }
        let results = earlier + recorded.compactMap { event in
            if case .corporateActionApplied(let applied)? = event.payload { return applied }
            return nil
        }
        return (actionId, results.sorted { $0.positionId < $1.positionId })
    }

    /// The open positions in `tickers` (but those in `excluded`), grouped by client: the
    /// work of a multi-client command, one writer per client.
    private func holdersByClient(of tickers: [String], excluding excluded: Set<String>) -> [String: [String]] {
        var byClient: [String: [String]] = [:]
        for ticker in tickers {
            for (id, client) in directory.holders(of: ticker) where !excluded.contains(id) {
                byClient[client, default: []].append(id)
            }
        }
        return byClient
    }

    /// Waits (at most `timeout`) until Postgres holds every write acknowledged so far:
    /// read-your-writes for every read of the audit trail; UNAVAILABLE when it does not.
    func waitForAuditTrail(timeout: Duration = .seconds(5)) async throws {
        guard await gate.waitProjected(gate.acknowledgedSnapshot(), timeout: timeout) else {
            throw RPCError(.unavailable, "the audit trail is behind the event log (the projector is catching up); retry")
        }
    }

    /// Read your writes for a call: waits at most `timeout`, and never past the call's deadline.
    func waitForAuditTrail(_ context: ServerContext, timeout: Duration) async throws {
        var timeout = timeout
        if let deadline = context.deadline { timeout = min(timeout, deadline - .now) }
        try await waitForAuditTrail(timeout: timeout)
    }

    /// One attempt at a time per multi-client request id.
    private func claimBatch(_ requestId: String) throws {
        let claimed = batches.withLock { $0.inFlight.insert(requestId).inserted }
        guard claimed else { throw RPCError(.unavailable, "request \(requestId) is already in progress; retry when it answers") }
    }

    private func releaseBatch(_ requestId: String) {
        batches.withLock { _ = $0.inFlight.remove(requestId) }
    }

    /// The client owning a position (immutable), to pick its writer; NOT_FOUND for unknown ids.
    private func owner(of positionId: String) throws -> String {
        guard let client = directory.owner(of: positionId) else {
            throw RPCError(.notFound, "position \(positionId.prefix(128)) not found")
        }
        return client
    }

    static func realized(of event: Ultracore_Holdings_V1_Event) -> [Ultracore_Holdings_V1_RealizedLot] {
        switch event.payload {
        case .lotsSold(let sold)?: sold.realized
        case .positionClosed(let closed)?: closed.realized
        case .tradeExecuted(let trade)?: trade.realized
        default: []
        }
    }

    /// The first outcome of a retried request: the position as of the version its event
    /// produced, and that event (from the audit trail once the projector stored it).
    func replay(aggregate: String, version: Int64, eventId: String) async throws -> PositionWrite {
        try await waitForAuditTrail()
        let events = try await pool.withConnection { try ReadModels.events(aggregate: aggregate, upTo: version, on: $0) }
        guard let first = events.first, let last = events.last, last.eventId == eventId else {
            throw RPCError(.unavailable, "the outcome of this request is not readable yet; retry")
        }
        var position = try PositionState.opened(by: first)
        for event in events.dropFirst() { try position.apply(event) }
        return PositionWrite(position: position, event: last)
    }

    /// FAILED_PRECONDITION for an aggregate the projector dead-lettered an event of (the log
    /// holds an event of it the read model could not take): refused until it is replayed.
    func refuseIfQuarantined(_ aggregateId: String) throws {
        if gate.isQuarantined(aggregateId) {
            throw RPCError(.failedPrecondition,
                "\(aggregateId) has an event in the dead-letter table that the read model could not apply; writes to it wait until an operator replays it")
        }
    }

    // MARK: Queries

    /// The client's open position in `ticker`, if any.
    public func openPosition(client: String, ticker: String) -> PositionState? {
        executor.read(client) { $0.open(ticker) }
    }

    public func position(_ id: String) -> PositionState? {
        guard let client = directory.owner(of: id) else { return nil }
        return executor.read(client) { $0.positions[id] }
    }

    /// A client's positions ordered by (opened_at, position_id), after `after`.
    public func positions(client: String, includeClosed: Bool, after: (Instant, String)?, limit: Int) -> (page: [PositionState], more: Bool) {
        executor.read(client) { $0.page(includeClosed: includeClosed, after: after, limit: limit) }
    }

    /// The client's open positions' valuation figures in report (ticker) order.
    func openSummaries(of client: String) -> [PositionSummary] {
        executor.read(client) { $0.openSummaries }
    }

    /// The client's open positions, by ticker.
    func openPositions(of client: String) -> OpenPositions {
        executor.read(client) { $0.openView }
    }
}

extension Instant {
    /// The server clock, truncated to microseconds.
    public static var now: Instant {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Instant(microseconds: Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)
    }
}

/// Runs a blocking call (a broker round trip, a first connect) on a dispatch queue
/// outside the cooperative pool.
enum Blocking {
    private static let queue = DispatchQueue(label: "holdings-blocking", attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// The other way round: async work awaited from a thread of its own (a process's main
    /// thread, the agent's thread), which it blocks; never call it from a pool thread.
    static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        // Set before the signal the wait returned on.
        return try outcome.withLock { $0! }.get()
    }
}

/// The event the monitoring agent acts on: what it records while this is set is caused by that
/// event and shares its correlation id (lineage from a price to the trades it led to).
struct EventCause: Sendable {
    var eventId: String
    var correlationId: String

    @TaskLocal static var current: EventCause?

    static let causationHeader = "holdings-causation-id"
    static let correlationHeader = "holdings-correlation-id"

    /// The cause a call names in its metadata: honoured for callers with the admin scope (the
    /// agent's service identity), ignored for others; nil without one.
    static func of(_ context: ServerContext) throws(DomainError) -> EventCause? {
        guard let causation = context.metadata.first(causationHeader), context.principal?.isAdmin ?? false else { return nil }
        let id = try Validation.identifier(causation, field: causationHeader)
        let correlation = try context.metadata.first(correlationHeader).map { text throws(DomainError) in
            try Validation.identifier(text, field: correlationHeader)
        } ?? id
        return EventCause(eventId: id, correlationId: correlation)
    }
}
