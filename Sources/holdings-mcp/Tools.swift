import Foundation
import GRPCClient
import HoldingsProto
import MCP
import ProtoCodec
import RPCCore

/// A tool call that cannot go on: bad arguments, a refused write, or holdingsd's status.
struct ToolFailure: Error {
    var message: String
}

/// What the tools need: the channel to holdingsd and the limits of their answers.
struct ToolContext: Sendable {
    let channel: GRPCChannel
    let allowWrites: Bool
    /// Most rows (positions, lots, trades) in one answer.
    let maxRows: Int
    /// Most characters of the text content of one answer.
    let maxChars: Int

    var holdings: Ultracore_Holdings_V1_HoldingsService.Client { .init(channel) }
    var analytics: Ultracore_Holdings_V1_AnalyticsService.Client { .init(channel) }
    var agent: Ultracore_Holdings_V1_AgentService.Client { .init(channel) }
    var rebalancing: Ultracore_Holdings_V1_RebalancingService.Client { .init(channel) }
    var health: Grpc_Health_V1_Health.Client { .init(channel) }
    var options: CallOptions { CallOptions(timeout: .seconds(30)) }
}

/// Arguments of one call, checked against the tool's schema (which names every field).
struct Arguments {
    let values: [String: Value]

    init(_ values: [String: Value]?, allowed: Set<String>) throws(ToolFailure) {
        self.values = values ?? [:]
        for name in self.values.keys where !allowed.contains(name) {
            throw ToolFailure(message: "argument \(name.prefix(60)) is not a parameter of this tool (parameters: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ name: String, required: Bool = false, maxLength: Int = 128) throws(ToolFailure) -> String? {
        guard let value = values[name], value != .null else {
            if required { throw ToolFailure(message: "argument \(name) is required") }
            return nil
        }
        guard case .string(let text) = value else { throw ToolFailure(message: "argument \(name) must be a string") }
        guard !text.isEmpty || !required else { throw ToolFailure(message: "argument \(name) must not be empty") }
        guard text.count <= maxLength, !text.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw ToolFailure(message: "argument \(name) must be at most \(maxLength) printable characters")
        }
        return text
    }

    static let decimalPattern = "^[0-9]{1,15}(\\.[0-9]{1,10})?$"

    /// A positive exact decimal as a string ("10", "150.25").
    func decimal(_ name: String, required: Bool = false) throws(ToolFailure) -> String? {
        guard let text = try string(name, required: required, maxLength: 32) else { return nil }
        guard text.range(of: Self.decimalPattern, options: .regularExpression) != nil else {
            throw ToolFailure(message: "argument \(name) must be a decimal string like \"10\" or \"150.25\", not \"\(text)\"")
        }
        return text
    }

    func integer(_ name: String, range: ClosedRange<Int>) throws(ToolFailure) -> Int? {
        guard let value = values[name], value != .null else { return nil }
        let number: Int
        switch value {
        case .int(let whole): number = whole
        case .double(let real) where real.rounded() == real && abs(real) < 1e9: number = Int(real)
        default: throw ToolFailure(message: "argument \(name) must be an integer")
        }
        guard range.contains(number) else { throw ToolFailure(message: "argument \(name) must be from \(range.lowerBound) to \(range.upperBound)") }
        return number
    }

    func bool(_ name: String) throws(ToolFailure) -> Bool? {
        guard let value = values[name], value != .null else { return nil }
        guard case .bool(let flag) = value else { throw ToolFailure(message: "argument \(name) must be true or false") }
        return flag
    }

    func choice(_ name: String, _ allowed: [String]) throws(ToolFailure) -> String? {
        guard let text = try string(name) else { return nil }
        guard allowed.contains(text) else { throw ToolFailure(message: "argument \(name) must be one of \(allowed.joined(separator: ", "))") }
        return text
    }

    /// Target weights: ticker → decimal fraction, summing to at most 1.
    func weights(_ name: String) throws(ToolFailure) -> [String: String] {
        guard let value = values[name], case .object(let entries) = value, !entries.isEmpty else {
            throw ToolFailure(message: "argument \(name) is required: an object of ticker → weight as a decimal string, like {\"AAPL\": \"0.6\"}")
        }
        guard entries.count <= 100 else { throw ToolFailure(message: "argument \(name) has more than 100 tickers") }
        var result: [String: String] = [:]
        for (ticker, weight) in entries {
            guard case .string(let text) = weight, text.range(of: Self.decimalPattern, options: .regularExpression) != nil else {
                throw ToolFailure(message: "argument \(name).\(ticker.prefix(20)) must be a decimal string like \"0.25\"")
            }
            result[ticker] = text
        }
        return result
    }
}

/// One tool: its MCP declaration and what a call does.
struct HoldingsTool: Sendable {
    let tool: Tool
    let writes: Bool
    let run: @Sendable (Arguments, ToolContext) async throws -> Value

    var parameters: Set<String> {
        guard case .object(let schema) = tool.inputSchema, case .object(let properties)? = schema["properties"] else { return [] }
        return Set(properties.keys)
    }
}

// MARK: - Schemas

func schema(_ properties: [String: Value], required: [String] = []) -> Value {
    .object(["type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
             "additionalProperties": false])
}

func text(_ description: String, pattern: String? = nil, maxLength: Int = 128) -> Value {
    var property: [String: Value] = ["type": "string", "description": .string(description), "maxLength": .int(maxLength)]
    if let pattern { property["pattern"] = .string(pattern) }
    return .object(property)
}

func decimal(_ description: String) -> Value { text(description + " Decimal string.", pattern: Arguments.decimalPattern, maxLength: 32) }

func integer(_ description: String, _ range: ClosedRange<Int>) -> Value {
    .object(["type": "integer", "description": .string(description), "minimum": .int(range.lowerBound), "maximum": .int(range.upperBound)])
}

func flag(_ description: String) -> Value { .object(["type": "boolean", "description": .string(description)]) }

func choice(_ description: String, _ values: [String]) -> Value {
    .object(["type": "string", "description": .string(description), "enum": .array(values.map { .string($0) })])
}

let clientId = text("Client id.")
let idempotencyKey = text("Idempotency key: a retry with the same key returns the first outcome and changes nothing.", maxLength: 64)
let weightsSchema: Value = .object([
    "type": "object", "description": "Target weight per ticker, decimal fractions summing to at most 1.",
    "additionalProperties": .object(["type": "string", "pattern": .string(Arguments.decimalPattern)]), "maxProperties": 100,
])

/// An output schema: an object with these properties (more may appear).
func output(_ properties: [String: Value]) -> Value {
    .object(["type": "object", "properties": .object(properties)])
}

let anyObject: Value = .object(["type": "object"])
let objects: Value = .object(["type": "array", "items": .object(["type": "object"])])
let someText: Value = .object(["type": "string"])

// MARK: - Answers

/// A response message as MCP structured content (its proto3 JSON).
func structured(_ message: some ProtoJSONMessage) throws -> Value {
    try JSONDecoder().decode(Value.self, from: Data(message.jsonBytes()))
}

func trimmed<T>(_ rows: [T], _ limit: Int) -> [T] { Array(rows.prefix(limit)) }

// MARK: - The ten tools


let holdingsTools: [HoldingsTool] = [
    HoldingsTool(
        tool: Tool(
            name: "get_positions", description: "A client's positions (quantity, cost basis, market value, gains), a page at a time.",
            inputSchema: schema([
                "client_id": clientId, "include_closed": flag("Include closed positions."),
                "page_size": integer("Positions per page (capped by the server's row limit).", 1...1000),
                "page_token": text("next_page_token of the previous page.", maxLength: 512),
            ], required: ["client_id"]),
            annotations: .init(title: "Positions", readOnlyHint: true, openWorldHint: false),
            outputSchema: output(["positions": objects, "nextPageToken": someText])),
        writes: false
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_ListPositionsRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        request.includeClosed = try arguments.bool("include_closed") ?? false
        request.pageSize = Int32(min(try arguments.integer("page_size", range: 1...1000) ?? context.maxRows, context.maxRows))
        request.pageToken = try arguments.string("page_token", maxLength: 512) ?? ""
        request.maxLots = 1
        return try structured(try await context.holdings.listPositions(request, options: context.options))
    },
    HoldingsTool(
        tool: Tool(
            name: "get_position", description: "One position with its open lots (a page of them; lot_count tells how many).",
            inputSchema: schema([
                "position_id": text("Position id."),
                "max_lots": integer("Lots to include (capped by the server's row limit).", 1...1000),
                "lots_offset": integer("Lots to skip (acquisition order).", 0...100_000),
            ], required: ["position_id"]),
            annotations: .init(title: "Position", readOnlyHint: true, openWorldHint: false),
            outputSchema: output(["position": anyObject])),
        writes: false
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_GetPositionRequest()
        request.positionId = try arguments.string("position_id", required: true) ?? ""
        request.maxLots = Int32(min(try arguments.integer("max_lots", range: 1...1000) ?? context.maxRows, context.maxRows))
        request.lotsOffset = Int32(try arguments.integer("lots_offset", range: 0...100_000) ?? 0)
        return try structured(try await context.holdings.getPosition(request, options: context.options))
    },
    HoldingsTool(
        tool: Tool(
            name: "open_position", description: "Buys shares: opens a position or adds a lot. Needs an idempotency key.",
            inputSchema: schema([
                "client_id": clientId, "ticker": text("Ticker, 1-12 of A-Z 0-9 . -.", pattern: "^[A-Z0-9.-]{1,12}$", maxLength: 12),
                "quantity": decimal("Shares bought, more than 0."), "price": decimal("Price per share, more than 0."),
                "fees": decimal("Fees, added to the basis."), "idempotency_key": idempotencyKey,
            ], required: ["client_id", "ticker", "quantity", "price", "idempotency_key"]),
            annotations: .init(title: "Buy", readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false),
            outputSchema: output(["position": anyObject, "lot": anyObject, "created": .object(["type": "boolean"]), "eventId": someText])),
        writes: true
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_OpenPositionRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        request.ticker = try arguments.string("ticker", required: true, maxLength: 12) ?? ""
        request.quantity = try arguments.decimal("quantity", required: true) ?? ""
        request.price = try arguments.decimal("price", required: true) ?? ""
        request.fees = try arguments.decimal("fees") ?? ""
        request.requestId = try arguments.string("idempotency_key", required: true, maxLength: 64) ?? ""
        request.maxLots = Int32(context.maxRows)
        return try structured(try await context.holdings.openPosition(request, options: context.options))
    },
    HoldingsTool(
        tool: Tool(
            name: "close_position", description: "Sells a whole position at a price. Needs an idempotency key.",
            inputSchema: schema([
                "position_id": text("Position id."), "price": decimal("Sale price per share, more than 0."),
                "method": choice("Which lots pay (tax basis).", ["FIFO", "LIFO", "HIFO", "AVERAGE"]),
                "fees": decimal("Fees, deducted from proceeds."), "idempotency_key": idempotencyKey,
            ], required: ["position_id", "price", "idempotency_key"]),
            annotations: .init(title: "Sell all", readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false),
            outputSchema: output(["position": anyObject, "realized": objects, "gains": anyObject, "eventId": someText])),
        writes: true
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_ClosePositionRequest()
        request.positionId = try arguments.string("position_id", required: true) ?? ""
        request.price = try arguments.decimal("price", required: true) ?? ""
        let method = try arguments.choice("method", ["FIFO", "LIFO", "HIFO", "AVERAGE"]) ?? "FIFO"
        request.method = Ultracore_Holdings_V1_CostBasisMethod.allCases.first { $0.protoName == method } ?? .fifo
        request.fees = try arguments.decimal("fees") ?? ""
        request.requestId = try arguments.string("idempotency_key", required: true, maxLength: 64) ?? ""
        request.maxLots = 1
        var answer = try await context.holdings.closePosition(request, options: context.options)
        answer.realized = trimmed(answer.realized, context.maxRows)
        return try structured(answer)
    },
    HoldingsTool(
        tool: Tool(
            name: "get_portfolio_value", description: "A client's total market value, cost and gains, with the largest positions.",
            inputSchema: schema(["client_id": clientId], required: ["client_id"]),
            annotations: .init(title: "Portfolio value", readOnlyHint: true, openWorldHint: false),
            outputSchema: anyObject),
        writes: false
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_GetPortfolioValueRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        request.maxPositions = Int32(context.maxRows)
        return try structured(try await context.holdings.getPortfolioValue(request, options: context.options))
    },
    HoldingsTool(
        tool: Tool(
            name: "get_performance", description: "Return, CAGR, volatility, Sharpe, Sortino and max drawdown of a client's valuation history.",
            inputSchema: schema([
                "client_id": clientId, "periods_per_year": integer("Valuations per year (252 for daily).", 1...100_000),
                "risk_free_rate": decimal("Risk-free rate per period."),
            ], required: ["client_id"]),
            annotations: .init(title: "Performance", readOnlyHint: true, openWorldHint: false),
            outputSchema: output(["performance": anyObject, "sharpe": anyObject, "drawdown": anyObject])),
        writes: false
    ) { arguments, context in
        var series = Ultracore_Holdings_V1_SeriesInput()
        var history = Ultracore_Holdings_V1_ClientHistory()
        history.clientId = try arguments.string("client_id", required: true) ?? ""
        series.source = .history(history)
        let periods = Double(try arguments.integer("periods_per_year", range: 1...100_000) ?? 252)
        let riskFree = Double(try arguments.decimal("risk_free_rate") ?? "0") ?? 0
        var performance = Ultracore_Holdings_V1_ComputePerformanceRequest()
        performance.series = series
        performance.periodsPerYear = periods
        performance.riskFreeRate = riskFree
        var sharpe = Ultracore_Holdings_V1_ComputeSharpeRequest()
        sharpe.series = series
        sharpe.periodsPerYear = periods
        sharpe.riskFreeRate = riskFree
        var drawdown = Ultracore_Holdings_V1_ComputeMaxDrawdownRequest()
        drawdown.series = series
        return .object([
            "performance": try structured(try await context.analytics.computePerformance(performance, options: context.options)),
            "sharpe": try structured(try await context.analytics.computeSharpe(sharpe, options: context.options)),
            "drawdown": try structured(try await context.analytics.computeMaxDrawdown(drawdown, options: context.options)),
        ])
    },
    HoldingsTool(
        tool: Tool(
            name: "assess_risk", description: "Value at risk, expected shortfall, volatility, concentration and a risk level for a client.",
            inputSchema: schema([
                "client_id": clientId, "confidence": decimal("Confidence level, like 0.95."),
                "horizon_days": integer("Horizon in periods.", 1...252),
            ], required: ["client_id"]),
            annotations: .init(title: "Risk", readOnlyHint: true, openWorldHint: false),
            outputSchema: anyObject),
        writes: false
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_AssessRiskRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        if let confidence = try arguments.decimal("confidence") { request.confidence = Double(confidence) ?? 0 }
        request.horizonDays = Int32(try arguments.integer("horizon_days", range: 1...252) ?? 0)
        var history = Ultracore_Holdings_V1_ClientHistory()
        history.clientId = request.clientId
        var series = Ultracore_Holdings_V1_SeriesInput()
        series.source = .history(history)
        request.series = series
        return try structured(try await context.agent.assessRisk(request, options: context.options))
    },
    HoldingsTool(
        tool: Tool(
            name: "propose_rebalance", description: "A dry-run plan of the trades that reach target weights, with costs and tax; returns a plan_id.",
            inputSchema: schema([
                "client_id": clientId, "target_weights": weightsSchema,
                "band": decimal("Drift (absolute weight) tolerated before trading, like 0.02."),
            ], required: ["client_id", "target_weights"]),
            annotations: .init(title: "Plan a rebalance", readOnlyHint: true, openWorldHint: false),
            outputSchema: output(["planId": someText, "trades": objects])),
        writes: false
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_PlanRebalancingRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        request.targetWeights = try arguments.weights("target_weights")
        request.strategy = .threshold
        var band = Ultracore_Holdings_V1_DriftBand()
        band.absolute = try arguments.decimal("band") ?? "0.01"
        request.band = band
        var answer = try await context.rebalancing.planRebalancing(request, options: context.options)
        answer.trades = trimmed(answer.trades, context.maxRows)
        return try structured(answer)
    },
    HoldingsTool(
        tool: Tool(
            name: "execute_rebalance", description: "Executes a plan from propose_rebalance. Needs an idempotency key.",
            inputSchema: schema([
                "client_id": clientId, "plan_id": text("plan_id from propose_rebalance."),
                "dry_run": flag("Only check the plan, trade nothing."), "idempotency_key": idempotencyKey,
            ], required: ["client_id", "plan_id", "idempotency_key"]),
            annotations: .init(title: "Execute a rebalance", readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false),
            outputSchema: anyObject),
        writes: true
    ) { arguments, context in
        var request = Ultracore_Holdings_V1_ExecuteRebalancingRequest()
        request.clientId = try arguments.string("client_id", required: true) ?? ""
        request.planId = try arguments.string("plan_id", required: true) ?? ""
        request.dryRun = try arguments.bool("dry_run") ?? false
        request.requestId = try arguments.string("idempotency_key", required: true, maxLength: 64) ?? ""
        var answer = try await context.rebalancing.executeRebalancing(request, options: context.options)
        answer.trades = trimmed(answer.trades, context.maxRows)
        return try structured(answer)
    },
    HoldingsTool(
        tool: Tool(
            name: "get_service_status", description: "Whether holdingsd and each of its services are serving, and this server's limits.",
            inputSchema: schema([:]),
            annotations: .init(title: "Service status", readOnlyHint: true, openWorldHint: false),
            outputSchema: output(["services": anyObject, "writesEnabled": .object(["type": "boolean"]),
                                  "maxRows": .object(["type": "integer"]), "maxChars": .object(["type": "integer"])])),
        writes: false
    ) { _, context in
        var services: [String: Value] = [:]
        for name in ["", "ultracore.holdings.v1.HoldingsService", "ultracore.holdings.v1.CostBasisService",
                     "ultracore.holdings.v1.AnalyticsService", "ultracore.holdings.v1.RebalancingService",
                     "ultracore.holdings.v1.AgentService", "ultracore.holdings.v1.DataMeshService"] {
            var request = Grpc_Health_V1_HealthCheckRequest()
            request.service = name
            do {
                let answer = try await context.health.check(request, options: CallOptions(timeout: .seconds(5)))
                services[name.isEmpty ? "server" : name] = .string(answer.status.protoName ?? "UNKNOWN")
            } catch let error as RPCError {
                services[name.isEmpty ? "server" : name] = .string("\(error.code)")
            }
        }
        return .object(["services": .object(services), "writesEnabled": .bool(context.allowWrites),
                        "maxRows": .int(context.maxRows), "maxChars": .int(context.maxChars)])
    },
]
