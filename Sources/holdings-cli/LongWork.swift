import ArgumentParser
import Foundation
import GRPCClient
import HoldingsCLIKit
import HoldingsProto
import ProtoCodec
import RPCCore
import SwiftCSV

// Long work of the command line, each with a progress bar on a terminal and plain lines when
// piped: a price batch over many tickers, training a policy, replaying a client's events.

/// A CSV file read by SwiftCSV, its columns found by name whatever their case.
struct CSVFile {
    let file: String
    let header: [String]
    let rows: [[String: String]]
    private let columns: [String: String]

    init(_ file: String) throws {
        let csv: CSV<Named>
        do {
            csv = try CSV<Named>(url: URL(fileURLWithPath: file), delimiter: .comma)
        } catch {
            throw ValidationError("cannot read \(file) as CSV: \(error)")
        }
        self.file = file
        header = csv.header
        rows = csv.rows
        columns = Dictionary(csv.header.map { ($0.lowercased().trimmingCharacters(in: .whitespaces), $0) }, uniquingKeysWith: { first, _ in first })
    }

    func has(_ name: String) -> Bool { columns[name] != nil }

    func require(_ names: [String]) throws {
        for name in names where columns[name] == nil {
            throw ValidationError("\(file) has no \(name) column (header: \(header.joined(separator: ",")))")
        }
    }

    /// The cell of a column (by lower-case name), trimmed; empty when absent.
    func cell(_ row: [String: String], _ name: String) -> String {
        columns[name].flatMap { row[$0] }?.trimmingCharacters(in: .whitespaces) ?? ""
    }
}

/// A date (2026-01-31, midnight UTC) or an RFC 3339 time.
func timestampArgument(_ text: String, _ name: String) throws -> Google_Protobuf_Timestamp {
    guard let parsed = RFC3339.parse(rfc3339Text(text)) else {
        throw ValidationError("\(name): \(text) is not a date like 2026-01-31 or an RFC 3339 time")
    }
    var time = Google_Protobuf_Timestamp()
    time.seconds = parsed.seconds
    time.nanos = parsed.nanos
    return time
}

/// `A=0.6,B=0.4` as a map of exact decimals.
func weightsArgument(_ text: String, _ name: String) throws -> [String: String] {
    var weights: [String: String] = [:]
    for pair in text.split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("\(name) wants TICKER=WEIGHT,…, not \(pair)") }
        guard weights[parts[0]] == nil else { throw ValidationError("\(name) names \(parts[0]) twice") }
        weights[parts[0]] = try decimalArgument(parts[1], "\(name) \(parts[0])")
    }
    return weights
}

// MARK: - prices

struct Prices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Price batches.", subcommands: [Publish.self])

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publishes the prices of a CSV file (ticker, price, optional date): revalues every open position of each ticker.",
            discussion: """
                Columns, by name in the header: ticker, price, and optionally date (2026-01-31 or RFC 3339; \
                empty means now). The rows go out in file order, in batches of at most --batch quotes with \
                one quote per ticker each (a ticker seen again starts a new batch, so a price history \
                arrives in order). Each batch's request id comes from its quotes and its place, so \
                publishing the same file again (with the same --batch) records nothing twice.
                """)
        @OptionGroup var connection: Connection
        @Argument(help: "CSV file of prices.") var file: String
        @Option(help: "Quotes per request, 1–10,000.") var batch: Int = 1000

        func run() async throws {
            guard (1...10_000).contains(batch) else { throw ValidationError("--batch is 1–10,000, not \(batch)") }
            let csv = try CSVFile(file)
            try csv.require(["ticker", "price"])
            var batches: [[Ultracore_Holdings_V1_PriceQuote]] = [[]]
            var tickers: Set<String> = []
            for (index, row) in csv.rows.enumerated() {
                let line = index + 2
                var quote = Ultracore_Holdings_V1_PriceQuote()
                quote.ticker = csv.cell(row, "ticker").uppercased()
                guard !quote.ticker.isEmpty else { throw ValidationError("\(file) line \(line): the ticker is empty") }
                quote.price = try decimalArgument(csv.cell(row, "price"), "\(file) line \(line): price")
                let date = csv.cell(row, "date")
                if !date.isEmpty { quote.pricedAt = try timestampArgument(date, "\(file) line \(line): date") }
                if (batches.last?.count ?? 0) >= batch || tickers.contains(quote.ticker) {
                    batches.append([])
                    tickers = []
                }
                batches[batches.count - 1].append(quote)
                tickers.insert(quote.ticker)
            }
            guard let first = batches.first, !first.isEmpty else { throw ValidationError("\(file) has no prices") }
            let progress = Progress(total: csv.rows.count)
            var done = 0
            var revalued = 0
            var unheld: Set<String> = []
            try await connection.run { channel in
                let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
                for (index, quotes) in batches.enumerated() {
                    var request = Ultracore_Holdings_V1_PublishPricesRequest()
                    request.prices = quotes
                    // From the batch's place and quotes: the same file in the same batches is the same requests.
                    let content = quotes.map { "\($0.ticker),\($0.price),\($0.pricedAt.map { "\($0.seconds).\($0.nanos)" } ?? "")" }
                    request.requestId = "prices-" + stableDigest("\(index)|" + content.joined(separator: "|"))
                    let answer = try await holdings.publishPrices(request, options: connection.options)
                    revalued += Int(answer.positionsRevalued)
                    unheld.formUnion(answer.unheldTickers)
                    done += quotes.count
                    progress.step(done, "batch \(index + 1)/\(batches.count): \(answer.positionsRevalued) positions revalued")
                }
            }
            print("published \(done) prices in \(batches.count) batches: \(revalued) position revaluations"
                  + (unheld.isEmpty ? "" : "; no open position holds \(unheld.sorted().joined(separator: ", "))"))
        }
    }
}

// MARK: - agent

struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Risk, anomalies, alerts and the learned policy: train, and every method of AgentService.",
        discussion: serviceAbstract("AgentService"), subcommands: [Train.self] + generatedCommands("AgentService"))

    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trains the portfolio policy on a CSV of prices (a column per ticker, a row per period), showing its progress.",
            discussion: """
                The file has a header naming the tickers (a date column, if any, is left out) and one row \
                per period of exact decimal prices. The same file, settings and seed give the same policy \
                (and the same id): training again answers the stored policy. Ctrl-C stops waiting, not the \
                training.
                """)
        @OptionGroup var connection: Connection
        @Argument(help: "CSV file of prices.") var file: String
        @Option(help: "Training episodes, 1–10,000.") var episodes: Int32 = 100
        @Option(help: "Random seed.") var seed: Int64 = 1
        @Option(help: "Target weights: TICKER=WEIGHT,… summing to 1 (default 1/N).") var targets: String?
        @Option(help: "Variance penalty λ of the reward, 0–100.") var riskPenalty: Double = 0
        @Option(help: "Trading cost in basis points of turnover (0 means 10).") var costBps: Double = 0
        @Option(help: "A trained policy to start from.") var warmStart: String?

        func histories() throws -> [Ultracore_Holdings_V1_PriceHistory] {
            let csv = try CSVFile(file)
            let tickers = csv.header.filter { !["date", "time", "period"].contains($0.lowercased().trimmingCharacters(in: .whitespaces)) }
            guard !tickers.isEmpty else { throw ValidationError("\(file) names no ticker in its header") }
            return try tickers.map { ticker in
                var history = Ultracore_Holdings_V1_PriceHistory()
                history.ticker = ticker.trimmingCharacters(in: .whitespaces).uppercased()
                history.prices = try csv.rows.enumerated().map { index, row in
                    try decimalArgument(row[ticker]?.trimmingCharacters(in: .whitespaces) ?? "", "\(file) line \(index + 2): \(ticker)")
                }
                return history
            }
        }

        func run() async throws {
            var request = Ultracore_Holdings_V1_TrainPolicyRequest()
            request.histories = try histories()
            request.episodes = episodes
            request.seed = seed
            request.riskPenalty = riskPenalty
            request.costBps = costBps
            request.warmStartPolicyId = warmStart ?? ""
            if let targets { request.targetWeights = try weightsArgument(targets, "--targets") }
            request.requestId = UUID().uuidString.lowercased()
            var options = connection.options
            options.timeout = nil
            let progress = Progress(total: Int(episodes))
            try await connection.run { channel in
                let call = try await Ultracore_Holdings_V1_AgentService.Client(channel).trainPolicy(request, options: options)
                for try await update in call.responses {
                    if connection.json {
                        try connection.printJSON(update, pretty: false)
                        continue
                    }
                    if let result = update.result {
                        if result.replayed { print("trained earlier with the same inputs: the stored policy") }
                        print("policy \(result.policyId)\(result.promoted ? " (promoted)" : ""): mean reward \(format(result.meanReward)), "
                              + "final loss \(format(result.finalLoss)), \(result.trainPeriods) periods trained, \(result.testPeriods) tested")
                        printTable(["strategy (out of sample)", "return", "Sharpe", "max drawdown", "turnover"], result.evaluation.map { row in
                            [row.strategy, format(row.totalReturn), format(row.sharpe), format(row.maxDrawdown), format(row.turnover)]
                        })
                    } else {
                        progress.step(Int(update.episode), "reward \(format(update.episodeReward)) ε \(format(update.epsilon))")
                    }
                }
            }
        }
    }
}

// MARK: - data mesh

struct DataMesh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data-mesh", abstract: "Data quality, lineage, as-of views, quarantine: every method of DataMeshService.",
        discussion: serviceAbstract("DataMeshService"), subcommands: generatedCommands("DataMeshService"))
}

// MARK: - events export

extension Events {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replays a client's (or a position's) recorded events as proto3 JSON lines, page by page.",
            discussion: "Progress goes to stderr (a counter on a terminal, lines when piped); the events to --out or stdout.")
        @OptionGroup var connection: Connection
        @Option(help: "The client whose events to export.") var client: String?
        @Option(help: "The position whose events to export (instead of --client).") var position: String?
        @Option(help: "File to write (default: stdout).") var out: String?
        @Option(help: "Events per page, 1–1000.") var pageSize: Int32 = 500

        func run() async throws {
            guard (client == nil) != (position == nil) else { throw ValidationError("give exactly one of --client and --position") }
            guard (1...1000).contains(pageSize) else { throw ValidationError("--page-size is 1–1000, not \(pageSize)") }
            let output: FileHandle
            if let out {
                guard FileManager.default.createFile(atPath: out, contents: nil), let handle = FileHandle(forWritingAtPath: out) else {
                    throw ValidationError("cannot write \(out)")
                }
                output = handle
            } else {
                output = FileHandle.standardOutput
            }
            defer { if out != nil { try? output.close() } }
            let progress = Progress(total: 0, standardError: true)
            var count = 0
            try await connection.run { channel in
                let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
                var token = ""
                repeat {
                    var request = Ultracore_Holdings_V1_ListEventsRequest()
                    request.clientId = client ?? ""
                    request.positionId = position ?? ""
                    request.pageSize = pageSize
                    request.pageToken = token
                    let page = try await holdings.listEvents(request, options: connection.options)
                    var text = ""
                    for event in page.events { text += try event.jsonString() + "\n" }
                    output.write(Data(text.utf8))
                    count += page.events.count
                    progress.step(count, "events (last \(timeText(page.events.last?.occurredAt)))")
                    token = page.nextPageToken
                } while !token.isEmpty
            }
            progress.finish()
        }
    }
}
