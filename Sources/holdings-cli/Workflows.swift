import ArgumentParser
import Foundation
import GRPCClient
import HoldingsCLIKit
import HoldingsProto
import ProtoCodec
import RPCCore
import SwiftCSV

// MARK: - analytics

struct Analytics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Returns, CAGR, Sharpe, Sortino, drawdown, alpha/beta: every method of AnalyticsService.",
        discussion: serviceAbstract("AnalyticsService"), subcommands: [Sharpe.self] + generatedCommands("AnalyticsService"))

    struct Sharpe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sharpe, Sortino and downside risk of the returns in a file.",
            discussion: "The file is CSV: a column named `return` (or the last column), one period per row, as decimal fractions (0.012 is 1.2 %).")
        @OptionGroup var connection: Connection
        @Option(help: "CSV of returns.") var returnsFile: String
        @Option(help: "Periods per year (252 for daily).") var periods: Double = 252
        @Option(help: "Risk-free rate per period.") var riskFree: Double = 0

        func run() async throws {
            let returns = try readReturns(returnsFile)
            var series = Ultracore_Holdings_V1_ReturnSeries()
            series.returns = returns
            var input = Ultracore_Holdings_V1_SeriesInput()
            input.source = .returns(series)
            var request = Ultracore_Holdings_V1_ComputeSharpeRequest()
            request.series = input
            request.periodsPerYear = periods
            request.riskFreeRate = riskFree
            try await connection.run { channel in
                let answer = try await Ultracore_Holdings_V1_AnalyticsService.Client(channel).computeSharpe(request, options: connection.options)
                if connection.json { return try connection.printJSON(answer) }
                printTable(["returns", "Sharpe", "Sortino", "downside risk"],
                           [[String(returns.count), format(answer.sharpe), format(answer.sortino), format(answer.downsideRisk)]])
            }
        }
    }
}

func format(_ value: Double) -> String { value.isFinite ? String(format: "%.4f", value) : "\(value)" }

// MARK: - rebalance

struct Rebalance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebalancing: evaluate, plan, execute, schedule (every method of RebalancingService).",
        discussion: serviceAbstract("RebalancingService"), subcommands: [Plan.self] + generatedCommands("RebalancingService"))

    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The trades that reach target weights, with costs and tax (nothing traded).")
        @OptionGroup var connection: Connection
        @Argument(help: "Client id.") var client: String
        @Option(help: "Target weights: TICKER=WEIGHT,… (decimal fractions).") var targets: String
        @Option(help: "Drift tolerated before trading (absolute weight).") var band: String = "0.01"

        func run() async throws {
            let weights = try weightsArgument(targets, "--targets")
            var request = Ultracore_Holdings_V1_PlanRebalancingRequest()
            request.clientId = client
            request.targetWeights = weights
            request.strategy = .threshold
            var drift = Ultracore_Holdings_V1_DriftBand()
            drift.absolute = try decimalArgument(band, "--band")
            request.band = drift
            try await connection.run { channel in
                let plan = try await Ultracore_Holdings_V1_RebalancingService.Client(channel).planRebalancing(request, options: connection.options)
                if connection.json { return try connection.printJSON(plan) }
                printTable(["side", "ticker", "quantity", "price", "value", "cost"], plan.trades.map { trade in
                    [trade.side.protoName ?? "", trade.ticker, trade.quantity, trade.estimatedPrice, trade.estimatedValue, trade.estimatedCost]
                })
                print("plan \(plan.planId): cost \(plan.totalEstimatedCost), tax impact \(plan.totalTaxImpact)")
            }
        }
    }
}

// MARK: - import

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Records the transactions of a CSV file (date, ticker, action, quantity, price, fees).",
        discussion: """
            Columns, by name in the header: date (2026-01-31 or RFC 3339), ticker, action (BUY or SELL), \
            quantity, price, fees (optional). Each row's request id is derived from the client and the row, \
            so importing the same file again records nothing twice. --dry-run checks every row and shows \
            what would be recorded, without calling the server.
            """)
    @OptionGroup var connection: Connection
    @Argument(help: "CSV file.") var file: String
    @Option(help: "Client id the transactions belong to.") var client: String
    @Option(help: "Which lots a SELL takes: FIFO, LIFO, HIFO or AVERAGE.") var method: String = "FIFO"
    @Flag(help: "Check and show; record nothing.") var dryRun = false

    struct Row {
        var line: Int
        var time: Google_Protobuf_Timestamp
        var date: String
        var ticker: String
        var buy: Bool
        var quantity: String
        var price: String
        var fees: String
        var requestId: String
    }

    /// A stable request id from the client and the row (and how many equal rows came before,
    /// so that two identical trades in one file are two trades).
    static func requestId(_ text: String) -> String { "import-" + stableDigest(text) }

    func rows() throws -> [Row] {
        let csv = try CSVFile(file)
        try csv.require(["date", "ticker", "action", "quantity", "price"])
        var seen: [String: Int] = [:]
        return try csv.rows.enumerated().map { index, raw in
            let line = index + 2
            func cell(_ name: String) -> String { csv.cell(raw, name) }
            let date = cell("date")
            let time = try timestampArgument(date, "\(file) line \(line): date")
            let action = cell("action").uppercased()
            guard action == "BUY" || action == "SELL" else { throw ValidationError("\(file) line \(line): action is BUY or SELL, not \(action)") }
            let quantity = try decimalArgument(cell("quantity"), "\(file) line \(line): quantity")
            let price = try decimalArgument(cell("price"), "\(file) line \(line): price")
            let feesText = cell("fees")
            let fees = feesText.isEmpty ? "" : try decimalArgument(feesText, "\(file) line \(line): fees")
            let ticker = cell("ticker").uppercased()
            let key = [client, date, ticker, action, quantity, price, fees].joined(separator: "|")
            let occurrence = seen[key, default: 0]
            seen[key] = occurrence + 1
            return Row(line: line, time: time, date: date, ticker: ticker, buy: action == "BUY", quantity: quantity, price: price,
                       fees: fees, requestId: Self.requestId(key + "|\(occurrence)"))
        }
    }

    func run() async throws {
        let sellMethod = try saleMethod(method)
        let rows = try rows()
        if dryRun {
            printTable(["line", "date", "action", "ticker", "quantity", "price", "fees", "request id"], rows.map { row in
                [String(row.line), row.date, row.buy ? "BUY" : "SELL", row.ticker, row.quantity, row.price, row.fees, row.requestId]
            })
            print("dry run: \(rows.count) transactions for \(client) would be recorded (nothing sent)")
            return
        }
        let progress = Progress(total: rows.count)
        try await connection.run { channel in
            let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
            let costs = Ultracore_Holdings_V1_CostBasisService.Client(channel)
            for (index, row) in rows.enumerated() {
                if row.buy {
                    var request = Ultracore_Holdings_V1_OpenPositionRequest()
                    request.clientId = client
                    request.ticker = row.ticker
                    request.quantity = row.quantity
                    request.price = row.price
                    request.fees = row.fees
                    request.tradeTime = row.time
                    request.requestId = row.requestId
                    request.maxLots = 1
                    _ = try await holdings.openPosition(request, options: connection.options)
                } else {
                    var request = Ultracore_Holdings_V1_SellLotsRequest()
                    request.clientId = client
                    request.ticker = row.ticker
                    request.quantity = row.quantity
                    request.price = row.price
                    request.fees = row.fees
                    request.method = sellMethod
                    request.tradeTime = row.time
                    request.requestId = row.requestId
                    request.maxLots = 1
                    _ = try await costs.sellLots(request, options: connection.options)
                }
                progress.step(index + 1, "\(row.buy ? "BUY" : "SELL") \(row.quantity) \(row.ticker) \(row.date)")
            }
        }
        print("imported \(rows.count) transactions for \(client)")
    }
}
