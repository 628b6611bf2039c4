import RPCCore

/// What a method requires of its caller, checked before the handler runs. Per-client
/// requirements are checked twice: here that the caller holds some grant of the kind,
/// and in the handler, once it knows which client the request touches, that it holds the
/// grant for that client.
public enum MethodRequirement: Sendable, Equatable, CustomStringConvertible {
    /// Anyone, authenticated or not (health; reflection when enabled).
    case open
    /// `clients:read:<client>` for every client the request reads.
    case clientRead
    /// `clients:write:<client>` for every client the request changes.
    case clientWrite
    /// A named scope (`prices:publish`, `corporate-actions:apply`, `admin`).
    case scope(String)

    public var description: String {
        switch self {
        case .open: "open"
        case .clientRead: "clients:read:<client>"
        case .clientWrite: "clients:write:<client>"
        case .scope(let scope): scope
        }
    }
}

/// The requirement of every method holdingsd serves, by service and method name. A test
/// checks it against the contract's method list (Tests/ProtoCodecTests/ContractMethods.txt)
/// and holdingsd refuses to serve a method that has none (PERMISSION_DENIED).
public enum MethodRequirements {
    static let package = "ultracore.holdings.v1."

    public static let contract: [String: [String: MethodRequirement]] = [
        "HoldingsService": [
            "OpenPosition": .clientWrite,
            "ClosePosition": .clientWrite,
            "GetPosition": .clientRead,
            "UpdatePositionValue": .clientWrite,
            "PublishPrices": .scope(Principal.pricesPublishScope),
            "ReconstructPosition": .clientRead,
            "ListPositions": .clientRead,
            "GetPortfolioValue": .clientRead,
            "MonitorPortfolio": .clientRead,
            "ApplyCorporateAction": .scope(Principal.corporateActionsScope),
            "ListEvents": .clientRead,
            "WatchEvents": .clientRead,
        ],
        "CostBasisService": [
            "GetCostBasisSummary": .clientRead,
            "SellLots": .clientWrite,
            "GetTaxLossHarvestCandidates": .clientRead,
            "GetUnrealizedGainLoss": .clientRead,
            "GetRealizedGains": .clientRead,
        ],
        // Analytics over series in the request need an authenticated caller with some
        // read grant; over a client's history, that client's read grant.
        "AnalyticsService": [
            "ComputePerformance": .clientRead,
            "ComputeSharpe": .clientRead,
            "ComputeMaxDrawdown": .clientRead,
            "ComputeAlphaBeta": .clientRead,
        ],
        "RebalancingService": [
            "EvaluateRebalancing": .clientWrite,
            "PlanRebalancing": .clientRead,
            "ExecuteRebalancing": .clientWrite,
            "ScheduleRebalancing": .clientWrite,
        ],
        "DataMeshService": [
            "GetDataQuality": .clientRead,
            "GetLineage": .clientRead,
            "ListMaterializedViews": .scope(Principal.adminScope),
            "ListDataProducts": .clientRead,
            "GetPortfolioAsOf": .clientRead,
            "DiffPosition": .clientRead,
            "ListQuarantinedRecords": .scope(Principal.adminScope),
        ],
        "AgentService": [
            "AssessRisk": .clientRead,
            "DetectAnomalies": .clientRead,
            "RecommendRebalancing": .clientRead,
            "TrainPolicy": .scope(Principal.adminScope),
            "RecommendAction": .clientRead,
            "ListAlerts": .clientRead,
            "AcknowledgeAlert": .clientWrite,
        ],
    ]

    /// Standard services: health is open; reflection is open when served (holdingsd
    /// serves it only with --reflection).
    public static let standard: [String: MethodRequirement] = [
        "/grpc.health.v1.Health/Check": .open,
        "/grpc.health.v1.Health/Watch": .open,
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": .open,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": .open,
    ]

    /// Methods that change data besides those requiring `clients:write`: audited whatever
    /// their outcome.
    static let otherWrites: Set<String> = [
        "HoldingsService/PublishPrices", "HoldingsService/ApplyCorporateAction", "AgentService/TrainPolicy",
    ]

    /// Paths of the methods that change data.
    public static let writes: Set<String> = {
        var paths = Set<String>()
        for (service, methods) in contract {
            for (method, requirement) in methods where requirement == .clientWrite || otherWrites.contains("\(service)/\(method)") {
                paths.insert("/\(package)\(service)/\(method)")
            }
        }
        return paths
    }()

    /// Every requirement by method path (`/package.Service/Method`).
    public static let byPath: [String: MethodRequirement] = {
        var table = standard
        for (service, methods) in contract {
            for (method, requirement) in methods { table["/\(package)\(service)/\(method)"] = requirement }
        }
        return table
    }()
}
