import Domain
import Foundation
import HoldingsProto
@testable import Services
import Store
import Synchronization
import Testing

/// A database of its own on the Swift tests' PostgreSQL cluster (deploy/postgres.sh, in
/// .data/swift-test-postgres on port 55433, started when it is not running; scripts/test.sh
/// stops it), with the migrations applied.
enum TestDatabase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Whether the cluster was started by this process (tests run in parallel: one start).
    private static let started = Mutex<Bool>(false)

    static func make() throws -> PostgresConnection {
        try started.withLock { started in
            if !started {
                try startCluster()
                started = true
            }
        }
        let name = "projector_" + UUIDText.random().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try PostgresConnection(url: "postgresql://postgres@127.0.0.1:55433/postgres")
        try admin.execute("CREATE DATABASE \(name)")
        let connection = try PostgresConnection(url: "postgresql://postgres@127.0.0.1:55433/\(name)")
        _ = try Migrations.apply(try Migrations.bundled(), on: connection)
        return connection
    }

    /// Runs deploy/postgres.sh with system(3), which waits for it with waitpid on this
    /// thread (Foundation's Process waits through machinery that can starve when the
    /// tests' threads are all busy, and the first start runs initdb: seconds).
    private static func startCluster() throws {
        let command = "bash '\(root)/deploy/postgres.sh' start '\(root)/.data/swift-test-postgres' 55433 >/dev/null"
        let status = system(command)
        guard status == 0 else {
            throw PostgresError(kind: .connection, sqlState: "", message: "deploy/postgres.sh start failed (status \(status))")
        }
    }
}

@Suite("Projector: events into the read models of a real PostgreSQL")
struct ProjectorTests {
    static func context(_ id: String = UUIDText.random()) -> EventContext {
        EventContext(eventId: id, occurredAt: Instant(microseconds: 1_700_000_000_000_000), correlationId: id, causationId: id,
                     source: "projector-test", requestId: "")
    }

    static func buy(_ existing: PositionState?, client: String = "c1", quantity: String, price: String, positionId: String = "pos-t1") throws
        -> Ultracore_Holdings_V1_Event {
        var request = Ultracore_Holdings_V1_OpenPositionRequest()
        request.clientId = client
        request.ticker = "ACME"
        request.quantity = quantity
        request.price = price
        request.tradeTime = Instant(microseconds: 1_690_000_000_000_000).timestamp
        return try OpenPositionCommand(request, now: Instant(microseconds: 1_700_000_000_000_000))
            .decide(existing: existing, newPositionId: positionId, context: context())
    }

    static func recorded(_ events: [Ultracore_Holdings_V1_Event], from offset: Int64 = 0) -> [ReadModels.Recorded] {
        events.enumerated().map { index, event in
            ReadModels.Recorded(event: event, body: event.serializedBytes(), topic: "holdings.positions", partition: 0, offset: offset + Int64(index))
        }
    }

    @Test("a buy, a second buy and a sale land as the write model's position; a replayed batch changes nothing")
    func projectsAndSkipsReplays() throws {
        let db = try TestDatabase.make()
        let opened = try Self.buy(nil, quantity: "10", price: "100")
        var position = try PositionState.opened(by: opened)
        let added = try Self.buy(position, quantity: "5", price: "130")
        try position.apply(added)
        var sell = Ultracore_Holdings_V1_SellLotsRequest()
        sell.clientId = "c1"
        sell.ticker = "ACME"
        sell.quantity = "12"
        sell.price = "150"
        sell.method = .fifo
        sell.tradeTime = Instant(microseconds: 1_695_000_000_000_000).timestamp
        let sold = try SellCommand(sell, now: Instant(microseconds: 1_700_000_000_000_000)).decide(position, context: Self.context()).event
        try position.apply(sold)

        try db.execute("BEGIN")
        let dead = try Projector.project(Self.recorded([opened, added, sold]), blocked: [], on: db)
        try db.execute("COMMIT")
        #expect(dead.isEmpty)
        let stored = try #require(try ReadModels.loadPositions(["pos-t1"], on: db)["pos-t1"])
        #expect(stored.version == 3)
        #expect(stored.quantity == position.quantity)
        #expect(stored.quantity == ExactDecimal(3))
        #expect(stored.costBasis == position.costBasis)
        #expect(stored.lots.map(\.quantity) == position.lots.map(\.quantity))
        #expect(try db.execute("SELECT count(*) FROM events").rows[0][0] == "3")

        // The same records again (a consumer restarting before its offsets were stored).
        try db.execute("BEGIN")
        let again = try Projector.project(Self.recorded([opened, added, sold]), blocked: [], on: db)
        try db.execute("COMMIT")
        #expect(again.isEmpty)
        #expect(try db.execute("SELECT count(*) FROM events").rows[0][0] == "3")
        #expect(try ReadModels.loadPositions(["pos-t1"], on: db)["pos-t1"]?.version == 3)
    }

    @Test("a record that fails a critical quality rule, or reuses a taken event id with another body, is quarantined with its rule and holds nothing back")
    func quarantinesForQuality() throws {
        let db = try TestDatabase.make()
        let opened = try Self.buy(nil, quantity: "10", price: "100", positionId: "pos-q")
        let position = try PositionState.opened(by: opened)
        // Another producer's version 2 whose lot does not reconcile: quarantined, not applied.
        var broken = try Self.buy(position, quantity: "1", price: "101", positionId: "pos-q")
        guard case .lotAdded(var added)? = broken.payload else { Issue.record("not a buy"); return }
        added.lot?.costBasis = "999"
        broken.payload = .lotAdded(added)
        // Our own version 2 follows: the quarantine did not block the aggregate.
        let good = try Self.buy(position, quantity: "2", price: "102", positionId: "pos-q")
        // A record reusing the opening's event id with another body, twice: across batches and within one.
        var impostor = try Self.buy(nil, client: "c9", quantity: "3", price: "5", positionId: "pos-imp")
        impostor.eventId = opened.eventId
        var twin = try Self.buy(nil, client: "c8", quantity: "4", price: "6", positionId: "pos-twin")
        let twinId = twin.eventId
        var twinRival = try Self.buy(nil, client: "c8", quantity: "5", price: "6", positionId: "pos-twin2")
        twinRival.eventId = twinId
        twin.eventId = twinId

        try db.execute("BEGIN")
        let first = try Projector.project(Self.recorded([opened, broken, good]), blocked: [], on: db)
        let second = try Projector.project(Self.recorded([impostor, twin, twinRival, opened], from: 3), blocked: [], on: db)
        try db.execute("COMMIT")
        #expect(first.map(\.event?.eventId) == [broken.eventId] && first[0].failedRules == ["amounts_reconcile"])
        #expect(!first[0].blocksAggregate && first[0].reason.contains("cost_basis 999"))
        #expect(try ReadModels.loadPositions(["pos-q"], on: db)["pos-q"]?.quantity == ExactDecimal(12))
        #expect(second.map(\.event?.aggregateId).sorted { ($0 ?? "") < ($1 ?? "") } == ["pos-imp", "pos-twin2"])
        #expect(second.allSatisfy { $0.failedRules == ["unique_ids"] && !$0.blocksAggregate })
        #expect(try db.execute("SELECT aggregate_id FROM events WHERE event_id = '\(opened.eventId)'").rows[0][0] == "pos-q")
        #expect(try db.execute("SELECT count(*) FROM events WHERE event_id = '\(twinId)'").rows[0][0] == "1")
        #expect(try ReadModels.loadPositions(["pos-twin2"], on: db)["pos-twin2"] == nil)
        let scores = try db.execute("SELECT DISTINCT quality_score, array_to_string(failed_rules, ',') FROM events").rows
        #expect(scores.map { [$0[0] ?? "", $0[1] ?? ""] } == [["95", "booked_promptly"]])  // trade time long before occurred_at
    }

    @Test("an event whose version another event took is dead-lettered, and so are later events of its aggregate; other aggregates flow")
    func deadLettersWithoutWedging() throws {
        let db = try TestDatabase.make()
        let opened = try Self.buy(nil, quantity: "10", price: "100", positionId: "pos-a")
        let position = try PositionState.opened(by: opened)
        let added = try Self.buy(position, quantity: "1", price: "101", positionId: "pos-a")
        // Another producer's event for the same (aggregate, version): the log's first one wins.
        let rival = try Self.buy(position, quantity: "2", price: "99", positionId: "pos-a")
        var after = position
        try after.apply(added)
        let later = try Self.buy(after, quantity: "3", price: "98", positionId: "pos-a")
        let other = try Self.buy(nil, client: "c2", quantity: "4", price: "50", positionId: "pos-b")

        try db.execute("BEGIN")
        let dead = try Projector.project(Self.recorded([opened, added, rival, later, other]), blocked: [], on: db)
        try db.execute("COMMIT")
        // The rival, then the aggregate waits (quarantined) until an operator replays it.
        #expect(dead.map(\.event?.eventId) == [rival.eventId, later.eventId])
        #expect(dead.first?.reason.isEmpty == false)
        let stored = try ReadModels.loadPositions(["pos-a", "pos-b"], on: db)
        #expect(stored["pos-a"]?.version == 2)
        #expect(stored["pos-a"]?.quantity == ExactDecimal(11))
        #expect(stored["pos-b"]?.quantity == ExactDecimal(4))

        // An aggregate blocked by an earlier dead letter: its events wait, the rest flows.
        let next = try Self.buy(stored["pos-a"], quantity: "1", price: "1", positionId: "pos-a")
        let otherNext = try Self.buy(stored["pos-b"], client: "c2", quantity: "1", price: "1", positionId: "pos-b")
        try db.execute("BEGIN")
        let blocked = try Projector.project(Self.recorded([next, otherNext], from: 10), blocked: ["pos-a"], on: db)
        try db.execute("COMMIT")
        #expect(blocked.map(\.event?.eventId) == [next.eventId])
        #expect(try ReadModels.loadPositions(["pos-b"], on: db)["pos-b"]?.version == 2)
        #expect(try ReadModels.loadPositions(["pos-a"], on: db)["pos-a"]?.version == 2)
    }

    @Test("with the projector's position cache, a rolled-back batch leaves nothing behind: the next batch sees what Postgres holds")
    func cacheNeverLies() throws {
        let db = try TestDatabase.make()
        let cache = PositionCache()
        let opened = try Self.buy(nil, quantity: "10", price: "100", positionId: "pos-c")
        try db.execute("BEGIN")
        _ = try Projector.project(Self.recorded([opened]), blocked: [], cache: cache, on: db)
        try db.execute("COMMIT")
        let first = try PositionState.opened(by: opened)
        // A batch that applies in memory (the cache remembers version 2) but whose transaction rolls back.
        let lost = try Self.buy(first, quantity: "5", price: "1", positionId: "pos-c")
        try db.execute("BEGIN")
        _ = try Projector.project(Self.recorded([lost], from: 1), blocked: [], cache: cache, on: db)
        try db.execute("ROLLBACK")
        // The log's real version 2 (another event) must apply to version 1, not to the cached version 2.
        let real = try Self.buy(first, quantity: "2", price: "3", positionId: "pos-c")
        try db.execute("BEGIN")
        let dead = try Projector.project(Self.recorded([real], from: 1), blocked: [], cache: cache, on: db)
        try db.execute("COMMIT")
        #expect(dead.isEmpty)
        let stored = try #require(try ReadModels.loadPositions(["pos-c"], on: db)["pos-c"])
        #expect(stored.version == 2)
        #expect(stored.quantity == ExactDecimal(12))
        // And a cached hit agrees with a cold load.
        let warm = try cache.load(["pos-c"], on: db)["pos-c"]
        #expect(warm?.version == 2)
        #expect(warm?.lots.map(\.quantity) == stored.lots.map(\.quantity))
    }
}

@Suite("The projector's lot diff")
struct LotDiffTests {
    static func lot(_ number: Int, quantity: Int, at time: Int64) -> LotState {
        LotState(lotId: "L\(number)", sequence: number, acquiredAt: Instant(microseconds: time), quantity: ExactDecimal(quantity),
                 originalQuantity: ExactDecimal(quantity), costBasis: ExactDecimal(quantity * 10), fees: .zero, sourceEventId: "e\(number)")
    }

    @Test("one walk finds exactly what a lookup by lot id finds, on random sales, changes, buys and backdated buys")
    func matchesTheLookup() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let count = Int.random(in: 0...40, using: &random)
            let old = (1...max(1, count)).map { Self.lot($0, quantity: 5, at: Int64($0) * 1000) }.prefix(count)
            var new = Array(old)
            new.removeAll { _ in Int.random(in: 0..<5, using: &random) == 0 }
            for index in new.indices where Int.random(in: 0..<5, using: &random) == 0 { new[index].quantity = ExactDecimal(1) }
            for extra in 0..<Int.random(in: 0...3, using: &random) {
                // A new lot, sometimes backdated between existing ones.
                new.append(Self.lot(100 + extra, quantity: 2, at: Int64.random(in: 0...50_000, using: &random)))
            }
            new.sort(by: PositionState.inOrder)
            let (gone, changed) = ReadModels.lotChanges(from: Array(old), to: new)
            let before = Dictionary(uniqueKeysWithValues: old.map { ($0.lotId, $0) })
            let after = Set(new.map(\.lotId))
            #expect(Set(gone) == Set(before.keys.filter { !after.contains($0) }))
            #expect(Set(changed.map(\.lotId)) == Set(new.filter { before[$0.lotId] != $0 }.map(\.lotId)))
        }
    }
}
