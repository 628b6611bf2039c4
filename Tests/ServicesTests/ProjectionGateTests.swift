import Services
import Store
import Synchronization
import Testing

@Suite("Projection gate: waiting for the projector")
struct ProjectionGateTests {
    let a = PartitionKey(topic: "holdings.positions", partition: 0)
    let b = PartitionKey(topic: "holdings.positions", partition: 1)

    @Test("a wait for offsets already projected returns at once; an empty wait too")
    func immediate() async {
        let gate = ProjectionGate(maxLag: 10)
        gate.projected(a, next: 5)
        #expect(await gate.waitProjected([a: 5], timeout: .seconds(5)))
        #expect(await gate.waitProjected([:], timeout: .zero))
    }

    @Test("a wait ends when the projector reaches every target, not before")
    func wokenByTheProjector() async throws {
        let gate = ProjectionGate(maxLag: 10)
        let done = Atomic<Int>(0)
        let waiter = Task {
            let reached = await gate.waitProjected([a: 3, b: 2], timeout: .seconds(30))
            done.store(reached ? 1 : 2, ordering: .relaxed)
            return reached
        }
        try await Task.sleep(for: .milliseconds(50))
        gate.projected(a, next: 3)
        try await Task.sleep(for: .milliseconds(50))
        #expect(done.load(ordering: .relaxed) == 0, "woke with partition b still behind")
        gate.projected(b, next: 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(done.load(ordering: .relaxed) == 0)
        let started = ContinuousClock.now
        gate.projected(b, next: 2)
        #expect(await waiter.value)
        // Woken by the projection, not by its 30 s timeout (a wide bound: the machine is shared).
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a wait times out with false, and a cancelled one ends at once with false")
    func timeoutAndCancellation() async throws {
        let gate = ProjectionGate(maxLag: 10)
        let started = ContinuousClock.now
        #expect(!(await gate.waitProjected([a: 1], timeout: .milliseconds(100))))
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        let waiter = Task { await gate.waitProjected([a: 1], timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        let cancelled = ContinuousClock.now
        waiter.cancel()
        #expect(!(await waiter.value))
        // Ended by the cancel, not by its 60 s timeout (a wide bound: 1 s was missed once under
        // a loaded CI run).
        #expect(ContinuousClock.now - cancelled < .seconds(10))
        // A later projection still works for new waiters.
        gate.projected(a, next: 1)
        #expect(await gate.waitProjected([a: 1], timeout: .seconds(1)))
    }

    @Test("a thousand concurrent waiters on many offsets each wake exactly when their offset is projected")
    func manyWaiters() async {
        let gate = ProjectionGate(maxLag: 10_000)
        await withTaskGroup(of: Bool.self) { group in
            for offset in 1...1000 {
                group.addTask { await gate.waitProjected([offset % 2 == 0 ? a : b: Int64(offset)], timeout: .seconds(30)) }
            }
            group.addTask {
                for next in 1...1001 {
                    gate.projected(a, next: Int64(next))
                    gate.projected(b, next: Int64(next))
                    if next % 100 == 0 { await Task.yield() }
                }
                return true
            }
            var all = true
            for await reached in group { all = all && reached }
            #expect(all)
        }
    }
}
