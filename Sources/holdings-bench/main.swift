import Foundation
import GRPCClient
import HoldingsProto
import RPCCore
import Synchronization

/// holdings-bench: the issue-5 benchmarks against a running holdingsd (loopback).
///   publish  PublishPrices revaluing TICKERS × HOLDERS open positions, BATCHES batches of TICKERS quotes
///   sell     SellLots of 1 share for each method on positions of LOTS lots, SELLS sales per method
/// Prints p50/p99 per batch or per sale; bounded by its counts.
func usage() -> String {
    """
    usage: holdings-bench publish --server H:P [--tickers 1000] [--holders 100] [--batches 5]
           holdings-bench sell    --server H:P [--lots 10000] [--sells 50]
    """
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-bench: \(message)\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let scenario = arguments.first, ["publish", "sell"].contains(scenario) else { fail(usage()) }
let options: [String: String] = {
    var options: [String: String] = [:]
    var index = 1
    while index < arguments.count {
        guard arguments[index].hasPrefix("--"), index + 1 < arguments.count else { fail(usage()) }
        options[String(arguments[index].dropFirst(2))] = arguments[index + 1]
        index += 2
    }
    return options
}()
@Sendable func option(_ name: String, _ fallback: Int) -> Int {
    guard let text = options[name] else { return fallback }
    guard let value = Int(text), value > 0 else { fail("--\(name) takes a positive number") }
    return value
}
guard let server = options["server"] else { fail(usage()) }

func millis(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func report(_ label: String, _ samples: [Double]) {
    let sorted = samples.sorted()
    func at(_ p: Double) -> Double { sorted[max(0, min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1))] }
    print(String(format: "%@: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms", label, sorted.count, at(0.5), at(0.99), sorted.last ?? 0))
}

let channel: GRPCChannel
do { channel = try GRPCChannel(target: server) } catch { fail("\(error)") }
let run = UUID().uuidString.prefix(6).uppercased()
let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
let costBasis = Ultracore_Holdings_V1_CostBasisService.Client(channel)
let options30 = CallOptions(timeout: .seconds(120))

/// Buys in parallel (`concurrency` in flight); a call refused by backpressure is retried.
func buyAll(_ requests: [Ultracore_Holdings_V1_OpenPositionRequest], concurrency: Int) async {
    let next = Counter()
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                while true {
                    let n = next.value.add(1, ordering: .relaxed).oldValue
                    if n >= requests.count { return }
                    while true {
                        do {
                            _ = try await holdings.openPosition(requests[n], options: options30)
                            break
                        } catch let error as RPCError where error.code == .unavailable {
                            try? await Task.sleep(for: .milliseconds(50))
                        } catch {
                            fail("setup buy: \(error)")
                        }
                    }
                }
            }
        }
    }
}

/// Waits until the projector stored everything (ListEvents answers only then).
func drain(client: String) async {
    var request = Ultracore_Holdings_V1_ListEventsRequest()
    request.clientId = client
    request.pageSize = 1
    for _ in 0..<120 {
        if (try? await holdings.listEvents(request, options: CallOptions(timeout: .seconds(10)))) != nil { return }
    }
}

let done = DispatchSemaphore(value: 0)
Task.detached {
    let clock = ContinuousClock()
    switch scenario {
    case "publish":
        let tickers = option("tickers", 1000), holders = option("holders", 100), batches = option("batches", 5)
        var requests: [Ultracore_Holdings_V1_OpenPositionRequest] = []
        // Ticker-major, so that consecutive calls go to different clients (one writer per client).
        for ticker in 0..<tickers {
            for holder in 0..<holders {
                var request = Ultracore_Holdings_V1_OpenPositionRequest()
                request.clientId = "bench-\(run)-\(holder)"
                request.ticker = "B\(run.prefix(3))\(ticker)"
                request.quantity = "10"
                request.price = "50"
                requests.append(request)
            }
        }
        let setup = clock.now
        await buyAll(requests, concurrency: 64)
        print(String(format: "setup: %d open positions (%d tickers × %d holders) in %.1f s", requests.count, tickers, holders,
                     millis(clock.now - setup) / 1000))
        await drain(client: "bench-\(run)-0")
        var samples: [Double] = []
        for batch in 0..<batches {
            var request = Ultracore_Holdings_V1_PublishPricesRequest()
            for ticker in 0..<tickers {
                var quote = Ultracore_Holdings_V1_PriceQuote()
                quote.ticker = "B\(run.prefix(3))\(ticker)"
                quote.price = "\(50 + batch).\(ticker % 100)"
                request.prices.append(quote)
            }
            let begin = clock.now
            do {
                let response = try await holdings.publishPrices(request, options: options30)
                samples.append(millis(clock.now - begin))
                print(String(format: "batch %d: %d positions revalued in %.1f ms", batch + 1, response.positionsRevalued, samples.last!))
            } catch {
                print("batch \(batch + 1): \(error)")
            }
            await drain(client: "bench-\(run)-0")
        }
        if !samples.isEmpty { report("PublishPrices per batch of \(tickers) prices (\(tickers * holders) positions)", samples) }
    default:
        let lots = option("lots", 10_000), sells = option("sells", 50)
        let methods: [(String, Ultracore_Holdings_V1_CostBasisMethod)] = [
            ("FIFO", .fifo), ("LIFO", .lifo), ("HIFO", .hifo), ("AVERAGE", .average), ("SPECIFIC_ID", .specificId)]
        var requests: [Ultracore_Holdings_V1_OpenPositionRequest] = []
        for lot in 0..<lots {
            for (name, _) in methods {
                var request = Ultracore_Holdings_V1_OpenPositionRequest()
                request.clientId = "sell-\(run)-\(name)"
                request.ticker = "S\(run)"
                request.quantity = "10"
                request.price = "\(20 + lot % 37).\(lot % 100)"
                requests.append(request)
            }
        }
        let setup = clock.now
        await buyAll(requests, concurrency: 40)
        print(String(format: "setup: %d positions of %d lots in %.1f s", methods.count, lots, millis(clock.now - setup) / 1000))
        for (name, method) in methods {
            await drain(client: "sell-\(run)-\(name)")
            var samples: [Double] = []
            for sale in 0..<sells {
                var request = Ultracore_Holdings_V1_SellLotsRequest()
                request.clientId = "sell-\(run)-\(name)"
                request.ticker = "S\(run)"
                request.quantity = "1"
                request.price = "30"
                request.method = method
                if method == .specificId {
                    var selection = Ultracore_Holdings_V1_LotSelection()
                    selection.lotId = "L\(lots / 2 + sale)"
                    selection.quantity = "1"
                    request.lotSelections = [selection]
                }
                let begin = clock.now
                do {
                    _ = try await costBasis.sellLots(request, options: options30)
                    samples.append(millis(clock.now - begin))
                } catch {
                    print("\(name) sale \(sale + 1): \(error)")
                }
            }
            if !samples.isEmpty { report("SellLots \(name) on \(lots) lots", samples) }
        }
    }
    done.signal()
}
done.wait()

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
