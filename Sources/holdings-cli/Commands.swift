import ArgumentParser
import Foundation
import GRPCClient
import HoldingsCLICommands
import HoldingsCLIKit
import HoldingsProto
import ProtoCodec
import RPCCore

// holdings: the command line of UltraCore Holdings, over holdingsd's gRPC API.

@main
struct Holdings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "holdings",
        abstract: "The command line of UltraCore Holdings (gRPC to holdingsd).",
        discussion: """
            Every method of the six services has a command of its own, in the group of its service \
            (positions, cost-basis, analytics, rebalance, agent, data-mesh), named after the method \
            (`holdings positions get-position --position-id pos-…`), with an option per request field; \
            `holdings methods` lists them. A few common tasks have shorter commands with tables \
            (positions open|list|get, portfolio value, cost-basis sell, analytics sharpe, rebalance plan, \
            events watch|export, prices publish, agent train) and there are workflows over many calls (import, \
            report). Answers print as tables, or as proto3 JSON with --json. A failed call exits with its \
            gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 16 UNAUTHENTICATED, …), a bad command line \
            with 64. Shell completion: holdings --generate-completion-script bash|zsh|fish.
            """,
        subcommands: [Health.self, Methods.self, Call.self, Positions.self, Portfolio.self, CostBasis.self, Analytics.self, Rebalance.self,
                      Agent.self, DataMesh.self, Events.self, Prices.self, Import.self, Report.self])

    /// As swift-argument-parser's own entry point, but a bad value found while a command runs
    /// (an option's JSON, a CSV row, a decimal) prints one line, `holdings: …`, and exits 64
    /// without the usage text, which is about the command line's shape, not its values.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try await asyncParseAsRoot(nil)
        } catch {
            exit(withError: error)
        }
        do {
            var running = command
            if var asyncCommand = running as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try running.run()
            }
        } catch let error as ValidationError {
            FileHandle.standardError.write(Data("holdings: \(error.message)\n".utf8))
            Foundation.exit(ExitStatus.usage)
        } catch {
            exit(withError: error)
        }
    }
}

/// The group of each service's commands on the command line.
let serviceGroups: [(group: String, service: String)] = [
    ("positions", "HoldingsService"), ("cost-basis", "CostBasisService"), ("analytics", "AnalyticsService"),
    ("rebalance", "RebalancingService"), ("agent", "AgentService"), ("data-mesh", "DataMeshService"),
]

/// The generated commands of a service's methods (Generated/cli).
func generatedCommands(_ service: String) -> [any ParsableCommand.Type] {
    (HoldingsCLICommands.services.first { $0.service == service }?.commands ?? []).map(\.type)
}

/// A service's summary, from its proto comment.
func serviceAbstract(_ service: String) -> String {
    HoldingsCLICommands.services.first { $0.service == service }?.abstract ?? ""
}

// MARK: - health

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "grpc.health.v1 Check: exits 0 when SERVING, 69 otherwise (for probes).")

    @OptionGroup var connection: Connection

    @Argument(help: "Service to check (default: the whole server).")
    var service: String = ""

    func run() async throws {
        try await connection.run { channel in
            var request = Grpc_Health_V1_HealthCheckRequest()
            request.service = service
            let answer = try await Grpc_Health_V1_Health.Client(channel).check(request, options: connection.options)
            if connection.json { try connection.printJSON(answer, pretty: false) } else { print(answer.status.protoName ?? "UNKNOWN") }
            if answer.status != .serving { throw ExitCode(ExitStatus.notServing) }
        }
    }
}

// MARK: - methods and call

struct Methods: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every method, with its command and its REST route.")

    func run() async throws {
        var routes: [String: String] = [:]
        for route in HoldingsHTTPRoutes.routes where routes[route.method.path] == nil {
            routes[route.method.path] = "\(route.verb) \(route.template)"
        }
        var commands: [String: String] = [:]
        for (group, service) in serviceGroups {
            for (method, type) in HoldingsCLICommands.services.first(where: { $0.service == service })?.commands ?? [] {
                commands["\(service)/\(method)"] = "\(group) \(type.configuration.commandName ?? "")"
            }
        }
        printTable(["method", "kind", "command", "REST"], HoldingsHTTPRoutes.methods.map { info in
            let method = info.method
            let name = "\(method.service.split(separator: ".").last ?? "")/\(method.method)"
            return [name, method.kind.rawValue, commands[name] ?? "", routes[method.path] ?? ""]
        })
    }
}

struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calls any method with a proto3 JSON request; prints the answer as JSON.",
        discussion: """
            holdings call HoldingsService/GetPosition '{"positionId": "pos-…"}'
            holdings call AnalyticsService/ComputeSharpe @request.json
            echo '{"clientId": "c1"}' | holdings call HoldingsService/WatchEvents -
            A server-streaming method prints one JSON object per line until it ends (or Ctrl-C).
            """)

    @OptionGroup var connection: Connection

    @Argument(help: "SERVICE/METHOD, as `holdings methods` lists them (the package may be left out).")
    var method: String

    @Argument(help: "The request: JSON text, @FILE, or - for stdin (default {}).")
    var request: String = "{}"

    func run() async throws {
        let wanted = method.hasPrefix("ultracore.") ? method : "ultracore.holdings.v1." + method
        guard let info = HoldingsHTTPRoutes.methods.first(where: { "\($0.method.service)/\($0.method.method)" == wanted }) else {
            throw ValidationError("no method \(method): see `holdings methods`")
        }
        let descriptor = info.method
        guard !descriptor.kind.clientStreams,
              let requestType = HoldingsProtoJSON.messageTypes[descriptor.requestType],
              let responseType = HoldingsProtoJSON.messageTypes[descriptor.responseType]
        else { throw ValidationError("\(method) cannot be called from the command line") }
        let text = try argumentText(request, name: "the request")
        let message: any ProtoJSONMessage
        do {
            message = try requestType.init(jsonBytes: [UInt8](text), options: ProtoJSONOptions())
        } catch {
            throw ValidationError("the request is not a \(descriptor.requestType): \(error.description)")
        }
        try await MethodCommand.invoke(descriptor, requestBytes: message.serializedBytes(), connection: connection) { bytes in
            let answer = try responseType.init(serializedBytes: bytes)
            try connection.printJSON(answer, pretty: !descriptor.kind.serverStreams)
        }
    }
}

// MARK: - positions

struct Positions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Positions: open, list, get, and every method of HoldingsService.",
        discussion: serviceAbstract("HoldingsService"),
        subcommands: [Open.self, List.self, Get.self] + generatedCommands("HoldingsService"))

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Buys shares: opens a position or adds a lot.")
        @OptionGroup var connection: Connection
        @Option(help: "Client id.") var client: String
        @Option(help: "Ticker.") var ticker: String
        @Option(name: [.customLong("qty"), .customLong("quantity")], help: "Shares, a decimal.") var quantity: String
        @Option(help: "Price per share, a decimal.") var price: String
        @Option(help: "Fees, added to the basis.") var fees: String?
        @Option(help: "Idempotency key (default: a new one; give it to retry safely).") var requestId: String?

        func run() async throws {
            var request = Ultracore_Holdings_V1_OpenPositionRequest()
            request.clientId = client
            request.ticker = ticker
            request.quantity = try decimalArgument(quantity, "--qty")
            request.price = try decimalArgument(price, "--price")
            request.fees = try fees.map { try decimalArgument($0, "--fees") } ?? ""
            request.requestId = requestId ?? UUID().uuidString
            request.maxLots = 1
            try await connection.run { channel in
                let answer = try await Ultracore_Holdings_V1_HoldingsService.Client(channel).openPosition(request, options: connection.options)
                if connection.json { return try connection.printJSON(answer) }
                let p = answer.position ?? .init()
                print("\(answer.created ? "opened" : "added a lot to") \(p.positionId): \(p.quantity) \(p.ticker), basis \(p.costBasis), average cost \(p.averageCost)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A client's positions.")
        @OptionGroup var connection: Connection
        @Argument(help: "Client id.") var client: String
        @Flag(help: "Include closed positions.") var closed = false

        func run() async throws {
            try await connection.run { channel in
                var rows: [[String]] = []
                var token = ""
                repeat {
                    var request = Ultracore_Holdings_V1_ListPositionsRequest()
                    request.clientId = client
                    request.includeClosed = closed
                    request.pageSize = 500
                    request.pageToken = token
                    request.maxLots = 1
                    let page = try await Ultracore_Holdings_V1_HoldingsService.Client(channel).listPositions(request, options: connection.options)
                    if connection.json { try connection.printJSON(page, pretty: false) }
                    rows += page.positions.map { p in
                        [p.ticker, p.quantity, p.costBasis, p.averageCost, p.lastPrice, p.marketValue, p.unrealizedGain, p.realizedGain,
                         (p.status.protoName ?? "").replacingOccurrences(of: "POSITION_STATUS_", with: ""), p.positionId]
                    }
                    token = page.nextPageToken
                } while !token.isEmpty
                if !connection.json {
                    printTable(["ticker", "quantity", "cost", "avg cost", "price", "value", "unrealized", "realized", "status", "position"], rows)
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One position with its open lots.")
        @OptionGroup var connection: Connection
        @Argument(help: "Position id.") var position: String

        func run() async throws {
            var request = Ultracore_Holdings_V1_GetPositionRequest()
            request.positionId = position
            try await connection.run { channel in
                let answer = try await Ultracore_Holdings_V1_HoldingsService.Client(channel).getPosition(request, options: connection.options)
                if connection.json { return try connection.printJSON(answer) }
                let p = answer.position ?? .init()
                print("\(p.positionId)  \(p.clientId)  \(p.ticker)  \(p.quantity) shares  basis \(p.costBasis)  value \(p.marketValue)")
                printTable(["lot", "acquired", "quantity", "unit cost", "basis", "term"], p.lots.map { lot in
                    [lot.lotId, timeText(lot.acquiredAt), lot.quantity, lot.unitCost, lot.costBasis,
                     (lot.term.protoName ?? "").replacingOccurrences(of: "HOLDING_TERM_", with: "")]
                })
            }
        }
    }
}

// MARK: - portfolio

struct Portfolio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A client's portfolio.", subcommands: [Value.self])

    struct Value: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Market value, cost and unrealized gain.")
        @OptionGroup var connection: Connection
        @Argument(help: "Client id.") var client: String

        func run() async throws {
            var request = Ultracore_Holdings_V1_GetPortfolioValueRequest()
            request.clientId = client
            try await connection.run { channel in
                let answer = try await Ultracore_Holdings_V1_HoldingsService.Client(channel).getPortfolioValue(request, options: connection.options)
                if connection.json { return try connection.printJSON(answer) }
                printTable(["client", "market value", "cost basis", "unrealized"],
                           [[answer.clientId, answer.marketValue, answer.costBasis, answer.unrealizedGain]])
            }
        }
    }
}

// MARK: - cost basis

struct CostBasis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cost-basis", abstract: "Sales by lot, gains, tax-loss harvesting: every method of CostBasisService.",
        discussion: serviceAbstract("CostBasisService"), subcommands: [Sell.self] + generatedCommands("CostBasisService"))

    struct Sell: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sells shares by FIFO, LIFO, HIFO or AVERAGE; prints the lots that paid.")
        @OptionGroup var connection: Connection
        @Option(help: "Client id.") var client: String
        @Option(help: "Ticker.") var ticker: String
        @Option(name: [.customLong("qty"), .customLong("quantity")], help: "Shares, a decimal.") var quantity: String
        @Option(help: "Price per share, a decimal.") var price: String
        @Option(help: "FIFO, LIFO, HIFO or AVERAGE.") var method: String = "FIFO"
        @Option(help: "Fees, deducted from proceeds.") var fees: String?
        @Flag(help: "Show what would be sold; record nothing.") var dryRun = false
        @Option(help: "Idempotency key (default: a new one).") var requestId: String?

        func run() async throws {
            let chosen = try saleMethod(method)
            var request = Ultracore_Holdings_V1_SellLotsRequest()
            request.clientId = client
            request.ticker = ticker
            request.quantity = try decimalArgument(quantity, "--qty")
            request.price = try decimalArgument(price, "--price")
            request.method = chosen
            request.fees = try fees.map { try decimalArgument($0, "--fees") } ?? ""
            request.dryRun = dryRun
            request.requestId = requestId ?? UUID().uuidString
            request.maxLots = 1
            try await connection.run { channel in
                let answer = try await Ultracore_Holdings_V1_CostBasisService.Client(channel).sellLots(request, options: connection.options)
                if connection.json { return try connection.printJSON(answer) }
                printTable(["lot", "quantity", "basis", "proceeds", "gain", "term"], answer.realized.map { lot in
                    [lot.lotId, lot.quantity, lot.costBasis, lot.proceeds, lot.realizedGain, (lot.term.protoName ?? "").replacingOccurrences(of: "HOLDING_TERM_", with: "")]
                })
                let gains = answer.gains ?? .init()
                print("\(dryRun ? "would realize" : "realized") \(gains.total) (short term \(gains.shortTerm), long term \(gains.longTerm)) on proceeds \(answer.totalProceeds)")
            }
        }
    }
}

// MARK: - events

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The event log: watch it live, or export a client's events.", subcommands: [Watch.self, Export.self])

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints events as they are recorded (Ctrl-C to stop).")
        @OptionGroup var connection: Connection
        @Option(help: "Only this client's events.") var client: String = ""
        @Flag(help: "Replay the recorded events first.") var fromStart = false
        @Option(help: "Stop after this many events.") var count: Int?

        func run() async throws {
            var request = Ultracore_Holdings_V1_WatchEventsRequest()
            request.clientId = client
            request.replayFromStart = fromStart
            var options = connection.options
            options.timeout = nil
            try await connection.run { channel in
                let call = try await Ultracore_Holdings_V1_HoldingsService.Client(channel).watchEvents(request, options: options)
                var seen = 0
                for try await answer in call.responses {
                    let event = answer.event ?? .init()
                    if connection.json {
                        try connection.printJSON(answer, pretty: false)
                    } else {
                        emit("\(timeText(event.occurredAt))  \(event.eventType.protoName ?? "")  \(event.clientId)  \(event.aggregateId)  \(event.eventId)")
                    }
                    seen += 1
                    if let count, seen >= count { call.cancel(); return }
                }
            }
        }
    }
}
