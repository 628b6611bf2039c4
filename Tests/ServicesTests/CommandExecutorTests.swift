import Foundation
import Domain
import EventLog
import HoldingsProto
import RPCCore
@testable import Services
import Synchronization
import Testing

/// A state that adds the amounts of its changes: what the executor applied is visible.
struct Tally: CommandState {
    struct Change: Sendable {
        var event: Ultracore_Holdings_V1_Event
        var amount: Int
    }

    var total = 0
    var unconfirmed = false

    init() {}

    static func event(of change: Change) -> Ultracore_Holdings_V1_Event { change.event }

    mutating func apply(_ change: Change) { total += change.amount }
}

/// The executor over librdkafka's mock cluster (the embedded broker), no projector: with
/// `maxLag` the gate lets that many events wait for the projection, then refuses.
struct ExecutorFixture {
    let broker: EmbeddedBroker
    let gate: ProjectionGate
    let executor: CommandExecutor<Tally>
    let applied: Locked<[String]>

    init(maxLag: Int = 1000) throws {
        broker = try EmbeddedBroker(brokers: 1, topics: ["executor-test"], partitions: 4)
        var configuration = KafkaConfiguration()
        configuration.clientId = "executor-test"
        let producer = try EventProducer(configuration: configuration, bootstrap: broker.bootstrap)
        gate = ProjectionGate(maxLag: maxLag)
        let recorder = EventRecorder(producer: producer, gate: gate, topic: "executor-test", partitions: 4, ackAfterProjection: nil)
        let applied = Locked<[String]>([])
        self.applied = applied
        executor = CommandExecutor(recorder: recorder, applied: { client, changes in
            applied.withLock { $0 += changes.map { "\(client):\($0.amount)" } }
        }, reload: { _ in { state in state.total = -1 } })
    }

    static func change(_ client: String, _ amount: Int) -> Tally.Change {
        let context = EventContext(eventId: UUIDText.random(), occurredAt: .now, correlationId: "c", causationId: "c",
                                   source: "test", requestId: "")
        // A complete event (the recorder scores it and refuses one that fails a critical rule).
        var event = context.envelope(aggregateId: "agg-\(client)", version: 1, clientId: client)
        var alert = Ultracore_Holdings_V1_AgentAlert()
        alert.clientId = client
        event.eventType = .agentAlert
        event.payload = .agentAlert(alert)
        return Tally.Change(event: event, amount: amount)
    }
}

@Suite("Command executor: lock the client, decide, produce, apply, confirm")
struct CommandExecutorTests {
    @Test("a recorded change is applied once the log acknowledged it, and reported to the applied hook")
    func appliesAcknowledged() async throws {
        let fixture = try ExecutorFixture()
        let total = try await fixture.executor.write("c1") { writer in
            try await writer.record(ExecutorFixture.change("c1", 5))
            return writer.read { $0.total }
        }
        #expect(total == 5)
        #expect(fixture.executor.read("c1") { $0.total } == 5)
        #expect(fixture.executor.read("c2") { $0.total } == 0)
        #expect(fixture.applied.withLock { $0 } == ["c1:5"])
    }

    @Test("a client's writers run one at a time in arrival order; another client's writer does not wait for them")
    func perClientWriters() async throws {
        let fixture = try ExecutorFixture()
        let order = Locked<[String]>([])
        let (gateOpened, open) = AsyncStream<Void>.makeStream()
        let first = Task {
            try await fixture.executor.write("a") { writer in
                order.withLock { $0.append("a1 start") }
                for await _ in gateOpened { break }
                try await writer.record(ExecutorFixture.change("a", 1))
                order.withLock { $0.append("a1 end") }
            }
        }
        while order.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(1)) }
        let second = Task {
            try await fixture.executor.write("a") { writer in
                order.withLock { $0.append("a2 (total \(writer.read { $0.total }))") }
            }
        }
        // Client b writes and finishes while a's first writer still holds a.
        try await fixture.executor.write("b") { writer in try await writer.record(ExecutorFixture.change("b", 7)) }
        order.withLock { $0.append("b done") }
        try await Task.sleep(for: .milliseconds(20))
        #expect(order.withLock { $0 } == ["a1 start", "b done"], "a's second writer ran before its first ended, or b waited for a")
        open.yield()
        try await first.value
        try await second.value
        #expect(order.withLock { $0 } == ["a1 start", "b done", "a1 end", "a2 (total 1)"])
    }

    @Test("all or nothing: when the log refuses one change of a batch, none is applied; otherwise the acknowledged ones are")
    func allOrNothing() async throws {
        // Two events may wait for the projection (none runs here); the third is refused.
        let fixture = try ExecutorFixture(maxLag: 2)
        let atomic = try await fixture.executor.write("c") { writer in
            await writer.record((1...3).map { ExecutorFixture.change("c", $0) }, allOrNothing: true)
        }
        #expect(atomic.results.map { $0 == nil } == [true, true, false])
        #expect(fixture.executor.read("c") { $0.total } == 0)
        let partial = try await fixture.executor.write("d") { writer in
            await writer.record([ExecutorFixture.change("d", 10), ExecutorFixture.change("d", 20)])
        }
        // d shares c's partition or not; either way only acknowledged changes count.
        let acknowledged = zip([10, 20], partial.results).reduce(0) { $0 + ($1.1 == nil ? $1.0 : 0) }
        #expect(fixture.executor.read("d") { $0.total } == acknowledged)
        if let error = partial.results.compactMap({ $0 }).first {
            #expect((error as? RPCError)?.code == .unavailable)
        }
    }

    @Test("a client whose last write is being confirmed refuses writes with UNAVAILABLE; other clients write on")
    func unconfirmedRefuses() async throws {
        let fixture = try ExecutorFixture()
        fixture.executor.update("u") { $0.unconfirmed = true }
        await #expect(throws: RPCError.self) {
            try await fixture.executor.write("u") { writer in try await writer.record(ExecutorFixture.change("u", 1)) }
        }
        do {
            try await fixture.executor.write("u") { _ in }
            Issue.record("the write ran")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        try await fixture.executor.write("v") { writer in try await writer.record(ExecutorFixture.change("v", 2)) }
        #expect(fixture.executor.read("v") { $0.total } == 2)
        #expect(fixture.executor.read("u") { $0.total } == 0)
    }
}

@Suite("Keyed states: one writer per key, readers never wait")
struct KeyedStatesTests {
    @Test("writers of one key run one at a time, and none is lost")
    func fifo() async throws {
        let states = KeyedStates<[Int]> { _ in [] }
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await states.write("k") { slot in
                        let now = gauge.running.add(1, ordering: .relaxed).newValue
                        _ = gauge.most.max(now, ordering: .relaxed)
                        await Task.yield()
                        slot.state.withLock { $0.append(index) }
                        gauge.running.subtract(1, ordering: .relaxed)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(gauge.most.load(ordering: .relaxed) == 1)
        #expect(states.read("k") { $0.count } == 200)
        #expect(Set(states.read("k") { $0 }) == Set(0..<200))
    }

    @Test("a reader gets the current state while a writer holds the key")
    func readersDoNotWait() async throws {
        let states = KeyedStates<Int> { _ in 0 }
        let (release, releaseIt) = AsyncStream<Void>.makeStream()
        let writer = Task {
            try await states.write("k") { slot in
                slot.state.withLock { $0 = 41 }
                for await _ in release { break }
                slot.state.withLock { $0 = 42 }
            }
        }
        while states.read("k", { $0 }) != 41 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(states.existing("k")?.isHeld == true)
        releaseIt.yield()
        try await writer.value
        #expect(states.read("k") { $0 } == 42)
        #expect(states.existing("k")?.isHeld == false)
        #expect(states.read("never") { $0 } == 0)
        #expect(states.existing("never") == nil, "a read made a slot")
    }
}

/// How many writers ran at once, at most.
final class Gauge: Sendable {
    let running = Atomic<Int>(0)
    let most = Atomic<Int>(0)
}

@Suite("Command executor: group commit of a client's independent commands")
struct BatchedCommandTests {
    typealias Command = CommandExecutor<Tally>.BatchedCommand

    static func command(_ client: String, _ amount: Int, key: String) -> Command {
        Command { _ in .record(ExecutorFixture.change(client, amount), keys: [key]) }
    }

    static func fixtureWithBatches() throws -> (ExecutorFixture, Locked<[[Int]]>, CommandExecutor<Tally>) {
        let fixture = try ExecutorFixture()
        let seen = Locked<[[Int]]>([])
        let executor = CommandExecutor<Tally>(recorder: fixture.executor.recorder, applied: { _, changes in
            seen.withLock { $0.append(changes.map(\.amount)) }
        }, reload: { _ in
            // Holds the fixture (its broker and producer) as long as the executor lives.
            withExtendedLifetime(fixture) {}
            return { _ in }
        })
        return (fixture, seen, executor)
    }

    @Test("commands queued behind a client's writer are recorded together, in arrival order, none sharing a key with another of its batch")
    func batchesStopAtSharedKeys() async throws {
        let (_, seen, executor) = try Self.fixtureWithBatches()
        let (gateOpened, open) = AsyncStream<Void>.makeStream()
        // An exclusive writer holds the client while 100 commands queue in a known order.
        let holder = Task {
            try await executor.write("c") { _ in for await _ in gateOpened { break } }
        }
        while !(executor.states.existing("c")?.isHeld ?? false) { await Task.yield() }
        var tasks: [Task<CommandExecutor<Tally>.BatchedCommand.Outcome, any Error>] = []
        for index in 0..<100 {
            let command = Self.command("c", index, key: "k\(index % 5)")
            tasks.append(Task { try await executor.batched("c", command) })
            while executor.states.slot("c").pending.withLock({ $0.count }) < index + 1 { await Task.yield() }
        }
        open.yield()
        try await holder.value
        for task in tasks { _ = try await task.value }
        #expect(executor.read("c") { $0.total } == (0..<100).reduce(0, +))
        // Keys k0…k4 repeat every five commands: each batch is the next five, in order.
        #expect(seen.withLock { $0 } == stride(from: 0, to: 100, by: 5).map { Array($0..<($0 + 5)) })
    }

    @Test("many concurrent commands of one client take far fewer pipeline round trips than commands, and all apply")
    func groupCommit() async throws {
        let (_, seen, executor) = try Self.fixtureWithBatches()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await executor.batched("g", Self.command("g", 1, key: "k\(index)")) }
            }
            try await group.waitForAll()
        }
        #expect(executor.read("g") { $0.total } == 200)
        let rounds = seen.withLock { $0.count }
        #expect(rounds < 100, "\(rounds) batches for 200 independent commands")
    }

    @Test("a command answered without recording (a refusal) does not stop the batch; an unconfirmed client refuses every queued command")
    func answersAndUnconfirmed() async throws {
        let (_, _, executor) = try Self.fixtureWithBatches()
        let refused = Command { _ in .answer(.failure(RPCError(.invalidArgument, "no"))) }
        await #expect(throws: RPCError.self) { try await executor.batched("r", refused) }
        _ = try await executor.batched("r", Self.command("r", 7, key: "a"))
        #expect(executor.read("r") { $0.total } == 7)
        executor.update("r") { $0.unconfirmed = true }
        do {
            _ = try await executor.batched("r", Self.command("r", 1, key: "b"))
            Issue.record("an unconfirmed client refuses")
        } catch let error as RPCError {
            #expect(error.code == .unavailable)
        }
        #expect(executor.read("r") { $0.total } == 7)
    }
}

@Suite("Event ids")
struct EventIdTests {
    @Test("generated ids are lower-case version-4 RFC 4122 UUIDs, all distinct, every hex digit used")
    func randomIds() throws {
        var seen = Set<String>()
        var digits = Set<Character>()
        for _ in 0..<20_000 {
            let id = UUIDText.random()
            #expect(UUIDText.isValid(id), "\(id)")
            #expect(id == id.lowercased())
            let characters = Array(id)
            #expect(characters[14] == "4", "version nibble of \(id)")
            #expect("89ab".contains(characters[19]), "variant nibble of \(id)")
            // Foundation parses it as the same UUID.
            #expect(UUID(uuidString: id)?.uuidString.lowercased() == id)
            seen.insert(id)
            digits.formUnion(characters.filter { $0 != "-" })
        }
        #expect(seen.count == 20_000)
        #expect(digits.count == 16)
    }
}

@Suite("Client book indexes")
struct ClientBookIndexTests {
    static func position(_ id: String, _ ticker: String, open: Bool, at micros: Int64) -> PositionState {
        PositionState(positionId: id, clientId: "c", ticker: ticker, status: open ? .open : .closed, lots: [], realizedGain: .zero,
                      lastPrice: nil, lastPricedAt: nil, openedAt: Instant(microseconds: micros), closedAt: nil, version: 1,
                      updatedAt: Instant(microseconds: micros), nextLot: 1)
    }

    @Test("the sorted open tickers follow random opens, closes and reopens, and a rebuilt book sorts them the same")
    func openTickers() {
        var book = ClientBook()
        var generator = SystemRandomNumberGenerator()
        var next = 0
        for step in 0..<3000 {
            let ticker = "T\(Int.random(in: 0..<150, using: &generator))"
            if let id = book.openByTicker[ticker], var closing = book.positions[id], Bool.random(using: &generator) {
                closing.status = .closed  // opened_at stays: it orders the book
                book.index(closing)
            } else if book.openByTicker[ticker] == nil {
                next += 1
                book.index(Self.position("p\(next)", ticker, open: true, at: Int64(step)))
            }
            #expect(book.openSummaries.map(\.ticker) == book.openByTicker.keys.sorted())
            #expect(book.openSummaries.allSatisfy { book.positions[$0.positionId]?.summary == $0 })
        }
        let rebuilt = ClientBook(positions: Array(book.positions.values), requests: [:], washLosses: [:], schedule: nil)
        #expect(rebuilt.openSummaries == book.openSummaries)
        // A confirmed client takes the reloaded positions with every index beside them.
        var stale = ClientBook()
        stale.index(Self.position("gone", "ZZZ", open: true, at: 1))
        stale.replacePositions(with: rebuilt)
        #expect(stale.openSummaries == book.openSummaries)
        #expect(stale.openByTicker == book.openByTicker)
        #expect(stale.order == book.order)
    }
}
