import ArgumentParser
import Foundation
import GRPCClient
import HoldingsCLIKit
import HoldingsProto
import ProtoCodec
import RPCCore
import SwiftCSV

/// `holdings report CLIENT --out report.html`: a self-contained HTML page (inline CSS and
/// SVG, no script, no network) drawn from the service's own answers.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A self-contained HTML report of a client: value, drawdown, allocation, gains by term, the last rebalancing, metrics.")
    @OptionGroup var connection: Connection
    @Argument(help: "Client id.") var client: String
    @Option(help: "Where to write the HTML.") var out: String = "report.html"
    @Option(help: "CSV of benchmark returns (a `return` column), for alpha and beta.") var benchmarkFile: String?
    @Option(help: "Points of the value chart.") var points: Int = 40

    func run() async throws {
        guard (3...500).contains(points) else { throw ValidationError("--points is 3 to 500") }
        let benchmark = try benchmarkFile.map(readReturns)
        try await connection.run { channel in
            let data = try await ReportData.gather(client: client, channel: channel, options: connection.options, points: points, benchmark: benchmark)
            try Data(ReportPage.html(data).utf8).write(to: URL(fileURLWithPath: out))
            print("wrote \(out): \(data.values.count) valuations, \(data.allocation.count) holdings, \(data.metrics.count) metrics")
        }
    }
}

/// The `return` column (or the last one) of a CSV file.
func readReturns(_ file: String) throws -> [Double] {
    let csv = try CSVFile(file)
    guard let column = csv.header.first(where: { $0.lowercased() == "return" }) ?? csv.header.last else { throw ValidationError("\(file) has no columns") }
    return try csv.rows.enumerated().map { index, row in
        guard let value = row[column].flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), value.isFinite else {
            throw ValidationError("\(file) row \(index + 2): \(column) is not a number")
        }
        return value
    }
}

struct ReportData {
    var client = ""
    var generatedAt = Date()
    /// (time, market value) from GetPortfolioAsOf at evenly spaced times, then now.
    var values: [(Date, Double)] = []
    var allocation: [(String, Double)] = []
    var marketValue = "0", costBasis = "0", unrealized = "0"
    var realizedShort = "0", realizedLong = "0", unrealizedShort = "0", unrealizedLong = "0"
    /// (key, label, value or the reason it is missing)
    var metrics: [(String, String, String)] = []
    var rebalancing: (id: String, time: Date, cost: String, trades: [(side: String, ticker: String, quantity: String, price: String)])?

    static func gather(client: String, channel: GRPCChannel, options: CallOptions, points: Int, benchmark: [Double]?) async throws -> ReportData {
        var data = ReportData()
        data.client = client
        let holdings = Ultracore_Holdings_V1_HoldingsService.Client(channel)
        let costs = Ultracore_Holdings_V1_CostBasisService.Client(channel)
        let analytics = Ultracore_Holdings_V1_AnalyticsService.Client(channel)
        let mesh = Ultracore_Holdings_V1_DataMeshService.Client(channel)

        // Events: when the book starts, and the last rebalancing.
        var events: [Ultracore_Holdings_V1_Event] = []
        var token = ""
        repeat {
            var request = Ultracore_Holdings_V1_ListEventsRequest()
            request.clientId = client
            request.pageSize = 1000
            request.pageToken = token
            let page = try await holdings.listEvents(request, options: options)
            events += page.events
            token = page.nextPageToken
        } while !token.isEmpty
        guard let first = events.compactMap({ $0.occurredAt }).map(date).min() else {
            throw RPCError(.notFound, "client \(client) has no events to report")
        }
        if let completed = events.last(where: { $0.eventType == .rebalancingCompleted }),
           case .rebalancingCompleted(let run)? = completed.payload {
            let trades = events.compactMap { event -> (String, String, String, String)? in
                guard case .tradeExecuted(let trade)? = event.payload, trade.rebalancingId == run.rebalancingId else { return nil }
                return (trade.side.protoName ?? "", trade.ticker, trade.quantity, trade.price)
            }
            data.rebalancing = (run.rebalancingId, completed.occurredAt.map(date) ?? first, run.totalCost,
                                trades.map { (side: $0.0, ticker: $0.1, quantity: $0.2, price: $0.3) })
        }

        // Value over time.
        // As of evenly spaced times from the first event to a second ago (the server refuses a
        // time ahead of its clock); the last point is the value now.
        let end = Date().addingTimeInterval(-1)
        let start = min(first, end)
        let span = end.timeIntervalSince(start)
        for index in 0..<(points - 1) {
            let time = start.addingTimeInterval(span * Double(index) / Double(points - 2))
            var request = Ultracore_Holdings_V1_GetPortfolioAsOfRequest()
            request.clientId = client
            request.asOfTime = timestamp(time)
            request.maxPositions = 1
            let answer = try await mesh.getPortfolioAsOf(request, options: options)
            data.values.append((time, Double(answer.marketValue) ?? 0))
        }

        // Allocation and totals.
        var positions = Ultracore_Holdings_V1_ListPositionsRequest()
        positions.clientId = client
        positions.pageSize = 1000
        positions.maxLots = 1
        for position in try await holdings.listPositions(positions, options: options).positions {
            data.allocation.append((position.ticker, Double(position.marketValue) ?? 0))
        }
        data.allocation.sort { $0.1 > $1.1 }
        var value = Ultracore_Holdings_V1_GetPortfolioValueRequest()
        value.clientId = client
        let portfolio = try await holdings.getPortfolioValue(value, options: options)
        (data.marketValue, data.costBasis, data.unrealized) = (portfolio.marketValue, portfolio.costBasis, portfolio.unrealizedGain)
        data.values.append((Date(), Double(portfolio.marketValue) ?? 0))

        // Gains by term.
        var realized = Ultracore_Holdings_V1_GetRealizedGainsRequest()
        realized.clientId = client
        let realizedTotals = try await costs.getRealizedGains(realized, options: options).totals ?? .init()
        (data.realizedShort, data.realizedLong) = (realizedTotals.shortTerm, realizedTotals.longTerm)
        var unrealized = Ultracore_Holdings_V1_GetUnrealizedGainLossRequest()
        unrealized.clientId = client
        let unrealizedTotals = try await costs.getUnrealizedGainLoss(unrealized, options: options).totals ?? .init()
        (data.unrealizedShort, data.unrealizedLong) = (unrealizedTotals.shortTerm, unrealizedTotals.longTerm)

        // Metrics from the valuation history (a measure the history cannot give says why).
        var history = Ultracore_Holdings_V1_ClientHistory()
        history.clientId = client
        var series = Ultracore_Holdings_V1_SeriesInput()
        series.source = .history(history)
        func measure(_ body: () async throws -> [(String, String, String)], _ keys: [(String, String)]) async throws -> [(String, String, String)] {
            do {
                return try await body()
            } catch let error as RPCError where error.code != .unauthenticated && error.code != .permissionDenied && error.code != .unavailable {
                return keys.map { ($0.0, $0.1, "n/a (\(error.message))") }
            }
        }
        data.metrics += try await measure({
            var request = Ultracore_Holdings_V1_ComputePerformanceRequest()
            request.series = series
            request.periodsPerYear = 252
            let answer = try await analytics.computePerformance(request, options: options)
            return [("total_return", "Total return", percent(answer.totalReturn)), ("cagr", "CAGR", percent(answer.cagr)),
                    ("volatility", "Annual volatility", percent(answer.annualVolatility))]
        }, [("total_return", "Total return"), ("cagr", "CAGR"), ("volatility", "Annual volatility")])
        data.metrics += try await measure({
            var request = Ultracore_Holdings_V1_ComputeSharpeRequest()
            request.series = series
            request.periodsPerYear = 252
            let answer = try await analytics.computeSharpe(request, options: options)
            return [("sharpe", "Sharpe", fixed(answer.sharpe)), ("sortino", "Sortino", fixed(answer.sortino))]
        }, [("sharpe", "Sharpe"), ("sortino", "Sortino")])
        data.metrics += try await measure({
            var request = Ultracore_Holdings_V1_ComputeMaxDrawdownRequest()
            request.series = series
            let answer = try await analytics.computeMaxDrawdown(request, options: options)
            return [("max_drawdown", "Max drawdown", percent(answer.maxDrawdown))]
        }, [("max_drawdown", "Max drawdown")])
        if let benchmark {
            data.metrics += try await measure({
                var request = Ultracore_Holdings_V1_ComputeAlphaBetaRequest()
                request.series = series
                var returns = Ultracore_Holdings_V1_ReturnSeries()
                returns.returns = benchmark
                var input = Ultracore_Holdings_V1_SeriesInput()
                input.source = .returns(returns)
                request.benchmark = input
                request.periodsPerYear = 252
                let answer = try await analytics.computeAlphaBeta(request, options: options)
                return [("alpha", "Alpha", fixed(answer.alpha)), ("beta", "Beta", fixed(answer.beta))]
            }, [("alpha", "Alpha"), ("beta", "Beta")])
        }
        return data
    }
}

func date(_ timestamp: Google_Protobuf_Timestamp) -> Date {
    Date(timeIntervalSince1970: Double(timestamp.seconds) + Double(timestamp.nanos) / 1e9)
}

func timestamp(_ date: Date) -> Google_Protobuf_Timestamp {
    var value = Google_Protobuf_Timestamp()
    let seconds = date.timeIntervalSince1970.rounded(.down)
    value.seconds = Int64(seconds)
    value.nanos = Int32(((date.timeIntervalSince1970 - seconds) * 1e9).rounded(.down))
    return value
}

func percent(_ value: Double) -> String { value.isFinite ? String(format: "%.2f%%", value * 100) : "\(value)" }
func fixed(_ value: Double) -> String { value.isFinite ? String(format: "%.3f", value) : "\(value)" }

/// The page: inline CSS and SVG drawn here from the numbers.
enum ReportPage {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func day(_ date: Date) -> String { String(RFC3339.format(seconds: Int64(date.timeIntervalSince1970), nanos: 0)?.prefix(10) ?? "") }

    /// A line (or area) chart of values over their index.
    static func lineChart(id: String, title: String, _ values: [Double], labels: (String, String), area: Bool, color: String) -> String {
        let width = 600.0, height = 220.0, pad = 40.0
        let low = min(values.min() ?? 0, area ? 0 : values.min() ?? 0), high = max(values.max() ?? 1, area ? 0 : values.max() ?? 1)
        let range = high - low == 0 ? 1 : high - low
        let points = values.enumerated().map { index, value -> String in
            let x = pad + (width - 2 * pad) * Double(index) / Double(max(1, values.count - 1))
            let y = height - pad - (height - 2 * pad) * (value - low) / range
            return String(format: "%.1f,%.1f", x, y)
        }
        var svg = "<svg id=\"\(id)\" role=\"img\" aria-label=\"\(escape(title))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\">"
        svg += "<text x=\"\(Int(pad))\" y=\"20\" class=\"title\">\(escape(title))</text>"
        svg += "<line x1=\"\(pad)\" y1=\"\(height - pad)\" x2=\"\(width - pad)\" y2=\"\(height - pad)\" class=\"axis\"/>"
        svg += "<text x=\"4\" y=\"\(Int(pad) + 4)\" class=\"tick\">\(escape(number(high)))</text>"
        svg += "<text x=\"4\" y=\"\(Int(height - pad))\" class=\"tick\">\(escape(number(low)))</text>"
        if area, let firstX = points.first?.split(separator: ",").first, let lastX = points.last?.split(separator: ",").first {
            let zero = height - pad - (height - 2 * pad) * (0 - low) / range
            svg += "<polygon points=\"\(firstX),\(zero) \(points.joined(separator: " ")) \(lastX),\(zero)\" fill=\"\(color)\" fill-opacity=\"0.35\"/>"
        }
        svg += "<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"/>"
        svg += "<text x=\"\(Int(pad))\" y=\"\(Int(height) - 8)\" class=\"tick\">\(escape(labels.0))</text>"
        svg += "<text x=\"\(Int(width - pad))\" y=\"\(Int(height) - 8)\" class=\"tick\" text-anchor=\"end\">\(escape(labels.1))</text>"
        return svg + "</svg>"
    }

    /// Horizontal bars, one per labelled value (negative values drawn left of zero).
    static func barChart(id: String, title: String, _ items: [(String, Double)], color: String) -> String {
        let width = 600.0, row = 26.0, left = 120.0, right = 110.0
        let height = 40 + row * Double(items.count)
        let high = max(items.map { abs($0.1) }.max() ?? 1, 1e-9)
        let hasNegative = items.contains { $0.1 < 0 }
        let zero = hasNegative ? left + (width - left - right) / 2 : left
        let scale = (width - left - right) / (hasNegative ? 2 * high : high)
        var svg = "<svg id=\"\(id)\" role=\"img\" aria-label=\"\(escape(title))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\">"
        svg += "<text x=\"8\" y=\"20\" class=\"title\">\(escape(title))</text>"
        for (index, item) in items.enumerated() {
            let y = 32 + row * Double(index)
            let length = abs(item.1) * scale
            let x = item.1 < 0 ? zero - length : zero
            svg += "<text x=\"8\" y=\"\(y + 15)\" class=\"label\">\(escape(item.0))</text>"
            svg += String(format: "<rect class=\"bar\" data-label=\"%@\" data-value=\"%@\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"18\" fill=\"%@\"/>",
                          escape(item.0), number(item.1), x, y, max(length, 0.5), item.1 < 0 ? "#c0392b" : color)
            svg += "<text x=\"\(Int(width - right + 8))\" y=\"\(y + 15)\" class=\"label\">\(escape(number(item.1)))</text>"
        }
        return svg + "</svg>"
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(format: "%.2f", value)
    }

    static func html(_ data: ReportData) -> String {
        let values = data.values.map(\.1)
        var peak = -Double.infinity
        let drawdowns = values.map { value -> Double in
            peak = max(peak, value)
            return peak > 0 ? value / peak - 1 : 0
        }
        let span = (data.values.first.map { day($0.0) } ?? "", data.values.last.map { day($0.0) } ?? "")
        let total = data.allocation.map(\.1).reduce(0, +)
        let gains: [(String, Double)] = [
            ("Realized, short", Double(data.realizedShort) ?? 0), ("Realized, long", Double(data.realizedLong) ?? 0),
            ("Unrealized, short", Double(data.unrealizedShort) ?? 0), ("Unrealized, long", Double(data.unrealizedLong) ?? 0),
        ]
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Holdings report: \(escape(data.client))</title>
            <style>
            body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 1320px; }
            h1 { font-size: 22px; margin: 0 0 4px; } .sub { color: #666; margin-bottom: 16px; }
            .grid { display: flex; flex-wrap: wrap; gap: 16px; } .card { border: 1px solid #ddd; border-radius: 8px; padding: 12px; }
            table { border-collapse: collapse; } td, th { padding: 4px 10px; text-align: right; border-bottom: 1px solid #eee; }
            th:first-child, td:first-child { text-align: left; }
            svg .title { font-weight: 600; font-size: 14px; } svg .tick, svg .label { font-size: 12px; fill: #555; }
            svg .axis { stroke: #999; }
            </style></head><body>
            <h1>Holdings report: \(escape(data.client))</h1>
            <div class="sub">Generated \(escape(RFC3339.format(seconds: Int64(data.generatedAt.timeIntervalSince1970), nanos: 0) ?? "")) from UltraCore Holdings.
            Market value <b id="market-value">\(escape(data.marketValue))</b>, cost basis <b id="cost-basis">\(escape(data.costBasis))</b>,
            unrealized gain <b id="unrealized">\(escape(data.unrealized))</b>.</div>
            <div class="grid">
            <div class="card">\(lineChart(id: "chart-value", title: "Market value", values, labels: span, area: false, color: "#2e86c1"))</div>
            <div class="card">\(lineChart(id: "chart-drawdown", title: "Drawdown from the peak (%)", drawdowns.map { $0 * 100 }, labels: span, area: true, color: "#c0392b"))</div>
            <div class="card">\(barChart(id: "chart-allocation", title: "Allocation by ticker (market value)", data.allocation, color: "#27ae60"))</div>
            <div class="card">\(barChart(id: "chart-gains", title: "Gains by term", gains, color: "#8e44ad"))</div>
            <div class="card"><table id="metrics"><tr><th>Metric</th><th>Value</th></tr>
            """
        for (key, label, value) in data.metrics {
            page += "<tr><td>\(escape(label))</td><td data-metric=\"\(key)\">\(escape(value))</td></tr>"
        }
        page += "</table></div><div class=\"card\"><table id=\"weights\"><tr><th>Ticker</th><th>Value</th><th>Weight</th></tr>"
        for (ticker, value) in data.allocation {
            page += "<tr><td>\(escape(ticker))</td><td>\(escape(number(value)))</td><td>\(String(format: "%.1f%%", total > 0 ? value / total * 100 : 0))</td></tr>"
        }
        page += "</table></div>"
        if let run = data.rebalancing {
            page += "<div class=\"card\"><table id=\"rebalancing\"><tr><th colspan=\"4\">Last rebalancing \(escape(run.id)), \(escape(day(run.time))), cost \(escape(run.cost))</th></tr>"
            page += "<tr><th>Side</th><th>Ticker</th><th>Quantity</th><th>Price</th></tr>"
            for trade in run.trades {
                page += "<tr><td>\(escape(trade.side))</td><td>\(escape(trade.ticker))</td><td>\(escape(trade.quantity))</td><td>\(escape(trade.price))</td></tr>"
            }
            page += "</table></div>"
        } else {
            page += "<div class=\"card\" id=\"rebalancing\">No rebalancing yet.</div>"
        }
        return page + "</div></body></html>\n"
    }
}
