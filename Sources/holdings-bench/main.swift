import Foundation
import GRPCClient
import HoldingsProto
import RPCCore
import Synchronization

/// holdings-bench: benchmarks against a running holdingsd (loopback).
///   publish    PublishPrices revaluing TICKERS × HOLDERS open positions, BATCHES batches of TICKERS quotes
///   sell       SellLots of 1 share for each method on positions of LOTS lots, SELLS sales per method
///   rebalance  EvaluateRebalancing and PlanRebalancing on one client of ASSETS positions of LOTS lots, CALLS each
///   analytics  each AnalyticsService method on a daily series of DAYS returns, CALLS each
///   growth     one position bought LOTS times, one buy at a time: buy latency by stretch, answer sizes
///   portfolio  one client opening POSITIONS positions (CONCURRENCY in flight): buy latency by stretch,
///              then GetPortfolioValue and MonitorPortfolio, CALLS each
/// Prints p50/p99 per call (or batch); bounded by its counts.
func usage() -> String {
    """
    usage: holdings-bench publish   --server H:P [--tickers 1000] [--holders 100] [--batches 5]
           holdings-bench sell      --server H:P [--lots 10000] [--sells 50]
           holdings-bench rebalance --server H:P [--assets 500] [--lots 50] [--calls 50]
           holdings-bench analytics --server H:P [--days 2520] [--calls 200]
           holdings-bench reads     --server H:P [--calls 50000] [--concurrency 32]
           holdings-bench growth    --server H:P [--lots 10000] [--max-lots 1000]
           holdings-bench portfolio --server H:P [--positions 20000] [--concurrency 16] [--calls 50]
           every scenario: [--token-file F] (else env HOLDINGS_TOKEN)
    """
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-bench: \(message)\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let scenario = arguments.first, ["publish", "sell", "rebalance", "analytics", "reads", "growth", "portfolio"].contains(scenario) else { fail(usage()) }
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

/// Times `calls` calls one after another and reports them; a failed call is printed and not counted.
func timeEach(_ calls: Int, _ label: String, _ call: @Sendable () async throws -> Void) async {
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<calls {
        let begin = clock.now
        do {
            try await call()
            samples.append(millis(clock.now - begin))
        } catch { print("\(label): \(error)") }
    }
    if !samples.isEmpty { report(label, samples) }
}

func report(_ label: String, _ samples: [Double]) {
    let sorted = samples.sorted()
    func at(_ p: Double) -> Double { sorted[max(0, min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1))] }
    print(String(format: "%@: n %d, p50 %.1f ms, p99 %.1f ms, max %.1f ms", label, sorted.count, at(0.5), at(0.99), sorted.last ?? 0))
}

let channel: GRPCChannel
do {
    // Credentials: --token-file (else env HOLDINGS_TOKEN).
    var configuration = ClientConfiguration()
    try configuration.useCredentials(tokenFile: options["token-file"], caFile: nil, certificateFile: nil, keyFile: nil)
    channel = try GRPCChannel(target: server, configuration: configuration)
} catch { fail("\(error)") }
let run = UUID().uuidString.prefix(6).uppercased()
let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
let costBasis = Ultracore_Holdings_V1_CostBasisService.Client(channel)
let rebalancing = Ultracore_Holdings_V1_RebalancingService.Client(channel)
let analytics = Ultracore_Holdings_V1_AnalyticsService.Client(channel)
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
    case "reads":
        // GetPosition of one position, `concurrency` in flight: the per-call cost of the
        // server's call path (authentication included when the server requires it).
        let calls = option("calls", 50_000), concurrency = option("concurrency", 32)
        var buy = Ultracore_Holdings_V1_OpenPositionRequest()
        buy.clientId = "bench-\(run)-reads"
        buy.ticker = "READ"
        buy.quantity = "1"
        buy.price = "1"
        let opened: Ultracore_Holdings_V1_OpenPositionResponse
        do { opened = try await holdings.openPosition(buy, options: options30) } catch { fail("setup buy: \(error)") }
        var read = Ultracore_Holdings_V1_GetPositionRequest()
        read.positionId = opened.position?.positionId ?? ""
        let request = read
        let next = Counter()
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while next.value.add(1, ordering: .relaxed).oldValue < calls {
                        do { _ = try await holdings.getPosition(request, options: options30) } catch { fail("GetPosition: \(error)") }
                    }
                }
            }
        }
        let seconds = millis(clock.now - start) / 1000
        print(String(format: "reads: %d GetPosition calls, %d in flight, in %.2f s: %.0f calls/s", calls, concurrency, seconds, Double(calls) / seconds))
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
    case "rebalance":
        let assets = option("assets", 500), lots = option("lots", 50), calls = option("calls", 50)
        let client = "rebal-\(run)"
        var requests: [Ultracore_Holdings_V1_OpenPositionRequest] = []
        for lot in 0..<lots {
            for asset in 0..<assets {
                var request = Ultracore_Holdings_V1_OpenPositionRequest()
                request.clientId = client
                request.ticker = "R\(run.prefix(3))\(asset)"
                request.quantity = "\(1 + (asset * 7 + lot) % 20)"
                request.price = "\(20 + (asset + lot * 13) % 61).\(lot % 100)"
                // Acquired over the last three years: long and short terms, gains and losses.
                var time = Google_Protobuf_Timestamp()
                time.seconds = Int64(Date().timeIntervalSince1970) - Int64((lot * 37 + asset) % 1000) * 86_400 - 3600
                request.tradeTime = time
                requests.append(request)
            }
        }
        let setup = clock.now
        await buyAll(requests, concurrency: 64)
        var prices = Ultracore_Holdings_V1_PublishPricesRequest()
        for asset in 0..<assets {
            var quote = Ultracore_Holdings_V1_PriceQuote()
            quote.ticker = "R\(run.prefix(3))\(asset)"
            quote.price = "\(30 + asset % 50).25"
            prices.prices.append(quote)
        }
        do { _ = try await holdings.publishPrices(prices, options: options30) } catch { fail("prices: \(error)") }
        print(String(format: "setup: 1 client, %d positions of %d lots (%d buys) priced, in %.1f s", assets, lots, requests.count,
                     millis(clock.now - setup) / 1000))
        var targets: [String: String] = [:]
        for asset in 0..<assets { targets["R\(run.prefix(3))\(asset)"] = String(describing: 1.0 / Double(assets)).prefix(12).description }
        var band = Ultracore_Holdings_V1_DriftBand()
        band.absolute = "0.0005"
        var evaluate = Ultracore_Holdings_V1_EvaluateRebalancingRequest()
        evaluate.clientId = client
        evaluate.targetWeights = targets
        evaluate.strategy = .threshold
        evaluate.band = band
        var plan = Ultracore_Holdings_V1_PlanRebalancingRequest()
        plan.clientId = client
        plan.targetWeights = targets
        plan.strategy = .threshold
        plan.band = band
        var constraints = Ultracore_Holdings_V1_PlanConstraints()
        constraints.commissionPerTrade = "1"
        constraints.commissionBps = "5"
        constraints.spreadBps = "3"
        constraints.minTradeValue = "10"
        plan.constraints = constraints
        var evaluations: [Double] = [], plans: [Double] = []
        var tradeCount = 0, outside = 0
        for _ in 0..<calls {
            let begin = clock.now
            do {
                let response = try await rebalancing.evaluateRebalancing(evaluate, options: options30)
                evaluations.append(millis(clock.now - begin))
                outside = response.drifts.filter(\.outsideBand).count
            } catch { print("evaluate: \(error)") }
            let planned = clock.now
            do {
                let response = try await rebalancing.planRebalancing(plan, options: options30)
                plans.append(millis(clock.now - planned))
                tradeCount = response.trades.count
            } catch { print("plan: \(error)") }
        }
        print("each evaluation: \(assets) drifts, \(outside) outside the band (one REBALANCING_TRIGGERED each); each plan: \(tradeCount) trades")
        if !evaluations.isEmpty { report("EvaluateRebalancing, \(assets) assets × \(lots) lots", evaluations) }
        if !plans.isEmpty { report("PlanRebalancing, \(assets) assets × \(lots) lots", plans) }
    case "growth":
        // One position bought `lots` times in a row: the cost of a buy as the position grows
        // (p50/p99 per stretch of a tenth), and what the answers weigh at the end.
        let lots = option("lots", 10_000)
        var buy = Ultracore_Holdings_V1_OpenPositionRequest()
        buy.clientId = "bench-\(run)-growth"
        buy.ticker = "GROW"
        buy.quantity = "1"
        buy.price = "10"
        buy.maxLots = Int32(option("max-lots", 1000))
        var samples: [Double] = []
        var last = Ultracore_Holdings_V1_OpenPositionResponse()
        let start = clock.now
        let stretch = max(1, lots / 10)
        for index in 0..<lots {
            buy.price = "\(10 + index % 7)"
            let began = clock.now
            do { last = try await holdings.openPosition(buy, options: options30) } catch { fail("OpenPosition \(index): \(error)") }
            samples.append(millis(clock.now - began))
            if samples.count == stretch || index == lots - 1 {
                report("OpenPosition, lots \(index + 2 - samples.count)-\(index + 1)", samples)
                samples.removeAll()
            }
        }
        print(String(format: "growth: %d buys in %.1f s", lots, millis(clock.now - start) / 1000))
        print("answer sizes at \(lots) lots: OpenPosition \(last.serializedBytes().count) bytes")
        var get = Ultracore_Holdings_V1_GetPositionRequest()
        get.positionId = last.position?.positionId ?? ""
        if let position = try? await holdings.getPosition(get, options: options30) {
            print("  GetPosition \(position.serializedBytes().count) bytes")
        }
        var reconstruct = Ultracore_Holdings_V1_ReconstructPositionRequest()
        reconstruct.positionId = get.positionId
        do {
            let rebuilt = try await holdings.reconstructPosition(reconstruct, options: options30)
            print("  ReconstructPosition \(rebuilt.serializedBytes().count) bytes")
        } catch { print("  ReconstructPosition: \(error)") }
    case "portfolio":
        // One client opening `positions` positions (one per ticker): the cost of a buy as the
        // portfolio grows, then the portfolio reads at that size.
        let positions = option("positions", 20_000), concurrency = option("concurrency", 16), calls = option("calls", 50)
        let client = "bench-\(run)-portfolio"
        let samples = Locked(values: [Double]())
        let next = Counter()
        let stretch = max(1, positions / 5)
        let start = clock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let n = next.value.add(1, ordering: .relaxed).oldValue
                        if n >= positions { return }
                        var buy = Ultracore_Holdings_V1_OpenPositionRequest()
                        buy.clientId = client
                        buy.ticker = "T\(n)"
                        buy.quantity = "1"
                        buy.price = "10"
                        let began = clock.now
                        while true {
                            do {
                                _ = try await holdings.openPosition(buy, options: options30)
                                break
                            } catch let error as RPCError where error.code == .unavailable {
                                try? await Task.sleep(for: .milliseconds(20))
                            } catch { fail("OpenPosition: \(error)") }
                        }
                        samples.append(n / stretch, millis(clock.now - began))
                    }
                }
            }
        }
        for (index, stretchSamples) in samples.all().enumerated() where !stretchSamples.isEmpty {
            report("OpenPosition, positions \(index * stretch + 1)-\(min(positions, (index + 1) * stretch))", stretchSamples)
        }
        print(String(format: "portfolio: %d positions opened in %.1f s", positions, millis(clock.now - start) / 1000))
        var value = Ultracore_Holdings_V1_GetPortfolioValueRequest()
        value.clientId = client
        var monitor = Ultracore_Holdings_V1_MonitorPortfolioRequest()
        monitor.clientId = client
        let (valueRequest, monitorRequest) = (value, monitor)
        await timeEach(calls, "GetPortfolioValue at \(positions) positions") { _ = try await holdings.getPortfolioValue(valueRequest, options: options30) }
        await timeEach(calls, "MonitorPortfolio at \(positions) positions") { _ = try await holdings.monitorPortfolio(monitorRequest, options: options30) }
    case "analytics":
        let days = option("days", 2520), calls = option("calls", 200)
        var seed: UInt64 = 42
        func normal() -> Double {
            // Box–Muller over a 64-bit LCG: deterministic, no dependency.
            func uniform() -> Double {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return (Double(seed >> 11) + 0.5) / 9007199254740992.0
            }
            return (-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * Double.pi * uniform())
        }
        var returns: [Double] = [], benchmark: [Double] = []
        for _ in 0..<days {
            let market = 0.0003 + 0.01 * normal()
            benchmark.append(market)
            returns.append(0.0001 + 1.1 * market + 0.005 * normal())
        }
        var series = Ultracore_Holdings_V1_SeriesInput()
        var returnSeries = Ultracore_Holdings_V1_ReturnSeries()
        returnSeries.returns = returns
        series.source = .returns(returnSeries)
        var benchmarkSeries = Ultracore_Holdings_V1_SeriesInput()
        var benchmarkReturns = Ultracore_Holdings_V1_ReturnSeries()
        benchmarkReturns.returns = benchmark
        benchmarkSeries.source = .returns(benchmarkReturns)
        // The same path as values with times and a cash flow every quarter (TWR and XIRR).
        var values = Ultracore_Holdings_V1_ValueSeries()
        var value = 1_000_000.0
        let start = Int64(Date().timeIntervalSince1970) - Int64(days) * 86_400
        var flows: [Ultracore_Holdings_V1_CashFlow] = []
        for day in 0...days {
            if day > 0 {
                value *= 1 + returns[day - 1]
                if day % 63 == 0 {
                    value += 10_000
                    var flow = Ultracore_Holdings_V1_CashFlow()
                    var time = Google_Protobuf_Timestamp()
                    time.seconds = start + Int64(day) * 86_400
                    flow.time = time
                    flow.amount = "10000"
                    flows.append(flow)
                }
            }
            values.values.append(String(format: "%.2f", value))
            var time = Google_Protobuf_Timestamp()
            time.seconds = start + Int64(day) * 86_400
            values.times.append(time)
        }
        var valueSeries = Ultracore_Holdings_V1_SeriesInput()
        valueSeries.source = .values(values)
        var performance = Ultracore_Holdings_V1_ComputePerformanceRequest()
        performance.series = series
        var performanceFlows = Ultracore_Holdings_V1_ComputePerformanceRequest()
        performanceFlows.series = valueSeries
        performanceFlows.cashFlows = flows
        var sharpe = Ultracore_Holdings_V1_ComputeSharpeRequest()
        sharpe.series = series
        sharpe.riskFreeRate = 0.0001
        var drawdown = Ultracore_Holdings_V1_ComputeMaxDrawdownRequest()
        drawdown.series = series
        var relative = Ultracore_Holdings_V1_ComputeAlphaBetaRequest()
        relative.series = series
        relative.benchmark = benchmarkSeries
        relative.riskFreeRate = 0.0001
        let (performanceRequest, flowsRequest, sharpeRequest, drawdownRequest, relativeRequest) = (performance, performanceFlows, sharpe, drawdown, relative)
        let cases: [(String, @Sendable () async throws -> Void)] = [
            ("ComputePerformance (returns)", { _ = try await analytics.computePerformance(performanceRequest, options: options30) }),
            ("ComputePerformance (values, \(flows.count) cash flows: TWR + XIRR)", { _ = try await analytics.computePerformance(flowsRequest, options: options30) }),
            ("ComputeSharpe", { _ = try await analytics.computeSharpe(sharpeRequest, options: options30) }),
            ("ComputeMaxDrawdown", { _ = try await analytics.computeMaxDrawdown(drawdownRequest, options: options30) }),
            ("ComputeAlphaBeta", { _ = try await analytics.computeAlphaBeta(relativeRequest, options: options30) }),
        ]
        for (label, call) in cases { await timeEach(calls, "\(label), \(days) daily returns", call) }
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

/// Samples by stretch, from many tasks.
final class Locked: Sendable {
    private let stretches: Mutex<[[Double]]>

    init(values: [Double]) { stretches = Mutex([values]) }

    func append(_ stretch: Int, _ value: Double) {
        stretches.withLock { stretches in
            while stretches.count <= stretch { stretches.append([]) }
            stretches[stretch].append(value)
        }
    }

    func all() -> [[Double]] { stretches.withLock { $0 } }
}
