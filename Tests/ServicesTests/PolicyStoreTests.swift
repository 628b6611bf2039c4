import HoldingsProto
import Learning
import RPCCore
@testable import Services
import Testing

@Suite("Policies read back from the log")
struct PolicyStoreTests {
    static func event(tickers: [String], sizes: [Int], window: Int32) -> Ultracore_Holdings_V1_Event {
        var random = SeededRandom(seed: 1)
        let network = Network(sizes: sizes, random: &random)
        var trained = Ultracore_Holdings_V1_PolicyTrained()
        trained.policyId = "pol-test"
        trained.tickers = tickers
        trained.layerSizes = sizes.map { Int32($0) }
        trained.weights = PolicyStore.weightBytes(network.parameters)
        var settings = Ultracore_Holdings_V1_PolicySettings()
        settings.window = window
        settings.shift = 0.1
        settings.costBps = 10
        trained.settings = settings
        var event = Ultracore_Holdings_V1_Event()
        event.eventId = "e1"
        event.eventType = .policyTrained
        event.payload = .policyTrained(trained)
        return event
    }

    @Test("a stored policy comes back with the same network to the bit")
    func roundTrip() throws {
        let event = Self.event(tickers: ["AAA", "BBB"], sizes: [24, 8, 4], window: 10)
        let loaded = try PolicyStore.loaded(event)
        var random = SeededRandom(seed: 1)
        #expect(loaded.network == Network(sizes: [24, 8, 4], random: &random) && loaded.tickers == ["AAA", "BBB"])
    }

    @Test("a policy whose network does not fit its tickers and window is refused, never run")
    func shapesAreChecked() {
        for (tickers, sizes, window) in [(["AAA"], [24, 8, 4], Int32(10)), (["AAA", "BBB"], [24, 8, 3], 10),
                                         (["AAA", "BBB"], [4, 8, 4], 0), ([String](), [2, 4], 0)] {
            #expect(throws: RPCError.self) { _ = try PolicyStore.loaded(Self.event(tickers: tickers, sizes: sizes, window: window)) }
        }
        var truncated = Self.event(tickers: ["AAA", "BBB"], sizes: [24, 8, 4], window: 10)
        if case .policyTrained(var trained)? = truncated.payload {
            trained.weights = Array(trained.weights.prefix(16))
            truncated.payload = .policyTrained(trained)
        }
        #expect(throws: RPCError.self) { _ = try PolicyStore.loaded(truncated) }
    }
}
