import GRPCTransport
import Testing

@Suite("Event loop timers")
struct LoopTimersTests {
    @Test("timers fire once, in deadline order, never after cancellation; the wait is to the earliest live one")
    func order() {
        var timers = LoopTimers()
        let start = ContinuousClock.now
        var fired: [Int] = []
        var ids: [Int: LoopTimers.ID] = [:]
        var generator = SystemRandomNumberGenerator()
        let offsets = (0..<5000).map { _ in Int.random(in: 0..<100_000, using: &generator) }
        for (index, offset) in offsets.enumerated() {
            ids[index] = timers.schedule(at: start + .microseconds(offset)) { fired.append(index) }
        }
        #expect(timers.waitMilliseconds(now: start - .seconds(1)) >= 1000)
        // Cancel every third timer, and cancel some twice.
        for index in stride(from: 0, to: offsets.count, by: 3) {
            if let id = ids[index] { timers.cancel(id); timers.cancel(id) }
        }
        #expect(timers.count == offsets.count - (offsets.count + 2) / 3)
        for work in timers.due(now: start + .microseconds(50_000)) { work() }
        for work in timers.due(now: start + .seconds(1)) { work() }
        for work in timers.due(now: start + .seconds(2)) { work() }
        let expected = offsets.indices.filter { $0 % 3 != 0 }.sorted { (offsets[$0], $0) < (offsets[$1], $1) }.map { offsets[$0] }
        #expect(fired.map { offsets[$0] } == expected)
        #expect(Set(fired).count == fired.count)
        #expect(timers.count == 0)
        #expect(timers.waitMilliseconds(now: start) == -1)
    }

    @Test("cancelled timers do not pile up: the heap is rebuilt from the live ones")
    func compaction() {
        var timers = LoopTimers()
        let start = ContinuousClock.now
        var fired = 0
        for _ in 0..<100_000 {
            let id = timers.schedule(at: start + .seconds(30)) { fired += 1 }
            timers.cancel(id)
        }
        let kept = timers.schedule(at: start + .milliseconds(10)) { fired += 1 }
        _ = kept
        #expect(timers.count == 1)
        let wait = timers.waitMilliseconds(now: start)
        #expect(wait >= 9 && wait <= 10, "\(wait)")
        for work in timers.due(now: start + .seconds(60)) { work() }
        #expect(fired == 1)
    }
}
