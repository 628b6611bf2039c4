import Foundation
import GRPCClient
import HoldingsProto
import RPCCore
import Store
import Synchronization

/// holdings-load: drives OpenPosition at a fixed concurrency against a holdingsd on
/// loopback and reports acknowledged calls per second (broker acks included: the call
/// answers only after them), call latency p50/p99, and, with --database-url, projector
/// lag: from the moment a call's OK reached the client to its row's `recorded_at` in
/// Postgres (the client clock is the server's: loopback only). Bounded by --calls and
/// --max-seconds; stops by itself.
func usage() -> String {
    """
    usage: holdings-load --server HOST:PORT [--concurrency N] [--calls N] [--max-seconds S]
                         [--clients N] [--connections N] [--database-url URL]
      --concurrency N   calls in flight (default 64)
      --calls N         calls in all (default 50000)
      --max-seconds S   stop issuing calls after S seconds (default 120)
      --clients N       distinct client ids, each its own writer (default 10000)
      --connections N   HTTP/2 connections, calls spread over them (default 4)
      --database-url U  measure projector lag from Postgres' events.recorded_at
      --raw-parts N     also measure the pipeline's parts alone, N records each: librdkafka
                        producing into a mock cluster, Postgres batched inserts into a
                        temporary copy of the events table (needs --database-url)
      --token-file F    bearer token for holdingsd (else env HOLDINGS_TOKEN)
      --ca-file F       TLS: trust these CA certificates (PEM)
      --client-cert F --client-key F   TLS client certificate (mutual TLS)
    """
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("holdings-load: \(message)\n".utf8))
    exit(2)
}

var server = ""
var concurrency = 64
var calls = 50_000
var maxSeconds = 120.0
var clients = 10_000
var connections = 4
var databaseURL: String?
var rawParts = 0
var tokenFile: String?, caFile: String?, clientCertificate: String?, clientKey: String?
var arguments = CommandLine.arguments.dropFirst()
@MainActor func next(_ flag: String) -> String {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
    return value
}
@MainActor func number<T: LosslessStringConvertible>(_ flag: String, _: T.Type) -> T {
    guard let value = T(next(flag)) else { fail("\(flag) takes a number") }
    return value
}
while let argument = arguments.popFirst() {
    switch argument {
    case "--server": server = next(argument)
    case "--concurrency": concurrency = number(argument, Int.self)
    case "--calls": calls = number(argument, Int.self)
    case "--max-seconds": maxSeconds = number(argument, Double.self)
    case "--clients": clients = number(argument, Int.self)
    case "--connections": connections = number(argument, Int.self)
    case "--database-url": databaseURL = next(argument)
    case "--raw-parts": rawParts = number(argument, Int.self)
    case "--token-file": tokenFile = next(argument)
    case "--ca-file": caFile = next(argument)
    case "--client-cert": clientCertificate = next(argument)
    case "--client-key": clientKey = next(argument)
    case "--help", "-h": print(usage()); exit(0)
    default: fail("unknown argument \(argument)\n\(usage())")
    }
}
guard !server.isEmpty, concurrency > 0, calls > 0, clients > 0, connections > 0, rawParts >= 0 else { fail(usage()) }
if rawParts > 0 && databaseURL == nil { fail("--raw-parts needs --database-url") }

struct Outcome: Sendable {
    var latencyMicros: Int64
    var eventId: String
    var ackedAtMicros: Int64
}

func wallMicros() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
}

func percentile(_ sorted: [Int64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)
    return Double(sorted[max(0, index)]) / 1000
}

let channels: [GRPCChannel]
do {
    var configuration = ClientConfiguration()
    try configuration.useCredentials(tokenFile: tokenFile, caFile: caFile, certificateFile: clientCertificate, keyFile: clientKey)
    if caFile != nil { configuration.serverName = "localhost" }
    channels = try (0..<connections).map { _ in try GRPCChannel(target: server, configuration: configuration) }
} catch {
    fail("\(error)")
}
let run = UUID().uuidString.prefix(8).lowercased()
let counter = Atomic<Int>(0)
let results = Mutex<(ok: [Outcome], errors: [String: Int])>(([], [:]))
let started = ContinuousClock.now
let stopAt = started + .milliseconds(Int64(maxSeconds * 1000))
let tickers = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "BRK.B"]

let finished = DispatchSemaphore(value: 0)
let (workers, totalCalls, clientCount) = (concurrency, calls, clients)
Task.detached {
    await withTaskGroup(of: Void.self) { group in
        for worker in 0..<workers {
            group.addTask {
                let client = Ultracore_Holdings_V1_HoldingsService.Client(channels[worker % channels.count])
                while ContinuousClock.now < stopAt {
                    let n = counter.add(1, ordering: .relaxed).oldValue
                    if n >= totalCalls { break }
                    var request = Ultracore_Holdings_V1_OpenPositionRequest()
                    request.clientId = "load-\(run)-\(n % clientCount)"
                    request.ticker = tickers[(n / clientCount) % tickers.count]
                    request.quantity = "\(1 + n % 7).25"
                    request.price = "\(100 + n % 50).125"
                    let begin = ContinuousClock.now
                    do {
                        let response = try await client.openPosition(request, options: CallOptions(timeout: .seconds(30)))
                        let acked = wallMicros()
                        let elapsed = ContinuousClock.now - begin
                        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
                        results.withLock { $0.ok.append(Outcome(latencyMicros: micros, eventId: response.eventId, ackedAtMicros: acked)) }
                    } catch let error as RPCError {
                        results.withLock { $0.errors["\(error.code)", default: 0] += 1 }
                    } catch {
                        results.withLock { $0.errors["\(error)", default: 0] += 1 }
                    }
                }
            }
        }
    }
    finished.signal()
}
finished.wait()
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let (ok, errors) = results.withLock { ($0.ok, $0.errors) }
let latencies = ok.map(\.latencyMicros).sorted()
print(String(format: "calls ok %d, errors %@, %.1f s, concurrency %d over %d connections, %d clients",
             ok.count, errors.isEmpty ? "none" : errors.map { "\($0.key) \($0.value)" }.joined(separator: ", "), seconds,
             concurrency, connections, clients))
print(String(format: "acknowledged OpenPosition/s %.0f", Double(ok.count) / seconds))
print(String(format: "call latency ms p50 %.2f p99 %.2f", percentile(latencies, 0.5), percentile(latencies, 0.99)))

if let databaseURL {
    do {
        let connection = try PostgresConnection(url: databaseURL)
        var recorded: [String: Int64] = [:]
        let deadline = ContinuousClock.now + .seconds(60)
        var pending = ok.map(\.eventId)
        while !pending.isEmpty && ContinuousClock.now < deadline {
            for chunk in stride(from: 0, to: pending.count, by: 5000).map({ Array(pending[$0..<min($0 + 5000, pending.count)]) }) {
                let rows = try connection.execute("""
                    SELECT event_id::text, (extract(epoch from recorded_at) * 1000000)::int8 FROM events WHERE event_id = ANY($1::uuid[])
                    """, [.text(postgresArrayLiteral(chunk))])
                for row in rows.rows { if let id = row[0], let at = row[1].flatMap({ Int64($0) }) { recorded[id] = at } }
            }
            pending = pending.filter { recorded[$0] == nil }
            if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.2) }
        }
        let lags = ok.compactMap { outcome in recorded[outcome.eventId].map { max(0, $0 - outcome.ackedAtMicros) } }.sorted()
        print(String(format: "projector lag ms (client OK -> row in Postgres) p50 %.2f p99 %.2f max %.2f over %d events; %d not in Postgres",
                     percentile(lags, 0.5), percentile(lags, 0.99), Double(lags.last ?? 0) / 1000, lags.count, pending.count))
        if !pending.isEmpty { exit(1) }
    } catch {
        fail("postgres: \(error)")
    }
}

if rawParts > 0, let databaseURL {
    // After the run, so the parts do not compete with it for the two cores.
    let produced = Mutex<Result<Double, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    let count = rawParts  // a copy: touching the top-level variable would run the task on the blocked main actor
    Task.detached {
        let result: Result<Double, any Error>
        do { result = .success(try await RawParts.produceRate(count: count)) } catch { result = .failure(error) }
        produced.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    do {
        guard let outcome = produced.withLock({ $0 }) else { fail("raw produce gave no result") }
        let produceRate = try outcome.get()
        let insertRate = try RawParts.insertRate(databaseURL: databaseURL, count: rawParts)
        let acknowledged = Double(ok.count) / seconds
        print(String(format: "raw produce records/s %.0f (librdkafka into a mock cluster, %d records of %d bytes, acks=all, linger 2 ms)",
                     produceRate, rawParts, RawParts.recordSize))
        print(String(format: "raw batched insert rows/s %.0f (events table shape, 2,000 rows per transaction)", insertRate))
        print(String(format: "pipeline / slowest part = %.3f", acknowledged / min(produceRate, insertRate)))
    } catch {
        fail("raw parts: \(error)")
    }
}
