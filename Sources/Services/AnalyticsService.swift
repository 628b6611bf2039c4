import Domain
import HoldingsProto
import RPCCore
import Security
import Store

/// AnalyticsService: statistics over an explicit series, or over a client's valuation
/// history (the `valuation_history` read model built from POSITION_VALUED events).
public struct AnalyticsService: Ultracore_Holdings_V1_AnalyticsService.ServiceProtocol {
    let model: WriteModel
    let readYourWritesTimeout: Duration

    public init(model: WriteModel, readYourWritesTimeout: Duration = .seconds(5)) {
        self.model = model
        self.readYourWritesTimeout = readYourWritesTimeout
    }

    /// A series resolved to periodic returns, with the values and times behind them when known.
    struct Series {
        /// Simple returns, one per period.
        var returns: [Double]
        /// Values (one more than the returns) when the input was values or history.
        var values: [Double]?
        /// Times of the wealth points (index 0 is the start) when known.
        var times: [Instant]?
        /// The exact values when the input was explicit values (drawdowns compare them exactly).
        var exactValues: [ExactDecimal]? = nil
    }

    /// At most this many points per series (a 10-year daily series has 2,520).
    static let maxPoints = 1_000_000

    func series(_ input: Ultracore_Holdings_V1_SeriesInput?, field: String, context: ServerContext) async throws -> Series {
        guard let source = input?.source else {
            throw DomainError.invalidArgument(field: field, reason: "is required (history, values or returns)")
        }
        switch source {
        case .values(let series):
            let field = field + ".values"
            guard series.values.count >= 2, series.values.count <= Self.maxPoints else {
                throw DomainError.invalidArgument(field: field + ".values", reason: "must hold 2 to \(Self.maxPoints) values, not \(series.values.count)")
            }
            var exact: [ExactDecimal] = []
            exact.reserveCapacity(series.values.count)
            for (index, text) in series.values.enumerated() {
                exact.append(try Validation.positive(text, field: "\(field).values[\(index)]"))
            }
            let values = exact.map(\.doubleValue)
            let times = try Self.times(series.times, count: values.count, field: field + ".times")
            return Series(returns: ReturnStatistics.returns(values: values), values: values, times: times, exactValues: exact)
        case .returns(let series):
            let field = field + ".returns"
            guard !series.returns.isEmpty, series.returns.count <= Self.maxPoints else {
                throw DomainError.invalidArgument(field: field + ".returns", reason: "must hold 1 to \(Self.maxPoints) returns, not \(series.returns.count)")
            }
            for (index, value) in series.returns.enumerated() where !(value.isFinite && value > -1) {
                throw DomainError.invalidArgument(field: "\(field).returns[\(index)]", reason: "must be finite and more than −1, not \(value)")
            }
            let times = try Self.times(series.times, count: series.returns.count, field: field + ".times")
            return Series(returns: series.returns, values: nil, times: times)
        case .history(let history):
            let field = field + ".history"
            let client = try Validation.identifier(history.clientId, field: field + ".client_id")
            try context.authorize(.read, client: client)
            let now = Instant.now
            let start = try history.startTime.map { time throws(DomainError) in try Validation.instant(time, field: field + ".start_time") }
            let end = try history.endTime.map { time throws(DomainError) in try Validation.instant(time, field: field + ".end_time") } ?? now
            if let start, start > end {
                throw DomainError.invalidArgument(field: field + ".start_time", reason: "is after end_time")
            }
            try await model.waitForAuditTrail(context, timeout: readYourWritesTimeout)
            let points = try await model.pool.withConnection { connection in
                try ReadModels.valuationSeries(client: client, from: start, to: end, on: connection)
            }
            guard points.count >= 2 else {
                throw DomainError.failedPrecondition(
                    "client \(client) has \(points.count) valuation point\(points.count == 1 ? "" : "s") in the period; at least 2 are needed")
            }
            if let zero = points.first(where: { !($0.value > 0) }) {
                throw DomainError.failedPrecondition(
                    "the portfolio of client \(client) is worth \(zero.value) at \(zero.time.timestamp.seconds) s; returns need values above 0")
            }
            let values = points.map(\.value)
            return Series(returns: ReturnStatistics.returns(values: values), values: values, times: points.map(\.time))
        }
    }

    /// Optional times: none, or one per point, strictly increasing.
    static func times(_ stamps: [Google_Protobuf_Timestamp], count: Int, field: String) throws(DomainError) -> [Instant]? {
        guard !stamps.isEmpty else { return nil }
        guard stamps.count == count else {
            throw .invalidArgument(field: field, reason: "holds \(stamps.count) times for \(count) points")
        }
        var times: [Instant] = []
        times.reserveCapacity(count)
        for (index, stamp) in stamps.enumerated() {
            let instant = try Self.microsecondInstant(stamp, field: "\(field)[\(index)]")
            if let last = times.last, instant <= last {
                throw .invalidArgument(field: "\(field)[\(index)]", reason: "is not after the previous time")
            }
            times.append(instant)
        }
        return times
    }

    /// A time of a series or a flow: kept to the microsecond, so finer times are refused
    /// (a flow 1 ns after an observation must not silently land in it).
    static func microsecondInstant(_ stamp: Google_Protobuf_Timestamp, field: String) throws(DomainError) -> Instant {
        let instant = try Validation.instant(stamp, field: field)
        guard stamp.nanos % 1000 == 0 else {
            throw .invalidArgument(field: field, reason: "has nanoseconds; series and flow times are kept to the microsecond")
        }
        return instant
    }

    static func periodsPerYear(_ value: Double) throws(DomainError) -> Double {
        if value == 0 { return 252 }
        guard value.isFinite, value > 0, value <= 1_000_000 else {
            throw .invalidArgument(field: "periods_per_year", reason: "must be more than 0 and at most 1,000,000 (0 means 252), not \(value)")
        }
        return value
    }

    static func rate(_ value: Double, field: String) throws(DomainError) -> Double {
        guard value.isFinite, value > -1 else { throw .invalidArgument(field: field, reason: "must be finite and more than −1, not \(value)") }
        return value
    }

    static func proto(_ undefined: [Undefined]) -> [Ultracore_Holdings_V1_UndefinedStatistic] {
        undefined.map {
            var statistic = Ultracore_Holdings_V1_UndefinedStatistic()
            statistic.statistic = $0.statistic
            statistic.reason = $0.reason
            return statistic
        }
    }

    public func computePerformance(request: Ultracore_Holdings_V1_ComputePerformanceRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ComputePerformanceResponse {
        try await ServiceError.mapping {
            let periods = try Self.periodsPerYear(request.periodsPerYear)
            _ = try Self.rate(request.riskFreeRate, field: "risk_free_rate")
            var series = try await series(request.series, field: "series", context: context)
            var undefined: [Undefined] = []
            var response = Ultracore_Holdings_V1_ComputePerformanceResponse()
            if request.cashFlows.isEmpty {
                response.moneyWeightedReturn = .nan
                undefined.append(Undefined(statistic: "money_weighted_return", reason: "no cash flows"))
            } else {
                guard let values = series.values, let times = series.times else {
                    throw DomainError.invalidArgument(field: "cash_flows", reason: "need a series of values with times (series.values.times or series.history)")
                }
                var flows: [(time: Instant, amount: ExactDecimal)] = []
                for (index, flow) in request.cashFlows.enumerated() {
                    guard let stamp = flow.time else {
                        throw DomainError.invalidArgument(field: "cash_flows[\(index)].time", reason: "is required and must be a valid timestamp")
                    }
                    let time = try Self.microsecondInstant(stamp, field: "cash_flows[\(index)].time")
                    let amount = try Validation.decimal(flow.amount, field: "cash_flows[\(index)].amount")
                    guard time > times[0], time <= times[times.count - 1] else {
                        throw DomainError.invalidArgument(field: "cash_flows[\(index)].time",
                            reason: "must be after the first and at most the last time of the series")
                    }
                    flows.append((time, amount))
                }
                let flowed = try PeriodFlows.adjusted(values: values, times: times, flows: flows)
                series.returns = flowed
                do {
                    response.moneyWeightedReturn = try PeriodFlows.moneyWeighted(values: values, times: times, flows: flows)
                } catch MoneyWeightedReturn.Failure.noRoot(let reason) {
                    throw RPCError(.failedPrecondition, "money-weighted return has no solution: \(reason)")
                }
            }
            let returns = series.returns
            response.observations = Int32(returns.count)
            response.totalReturn = ReturnStatistics.totalReturn(returns)
            response.timeWeightedReturn = response.totalReturn
            response.cagr = ReturnStatistics.annualReturn(returns, periodsPerYear: periods)
            response.annualVolatility = ReturnStatistics.annualVolatility(returns, periodsPerYear: periods)
            if returns.count < 2 {
                undefined.append(Undefined(statistic: "annual_volatility", reason: "needs at least 2 returns"))
            }
            let calmar = ReturnStatistics.calmar(returns, periodsPerYear: periods)
            response.calmar = calmar.value
            if let reason = calmar.undefined { undefined.append(Undefined(statistic: "calmar", reason: reason)) }
            if !response.cagr.isFinite {
                response.cagr = .nan
                undefined.append(Undefined(statistic: "cagr", reason: "not finite for this series"))
            }
            response.undefined = Self.proto(undefined)
            return response
        }
    }

    public func computeSharpe(request: Ultracore_Holdings_V1_ComputeSharpeRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ComputeSharpeResponse {
        try await ServiceError.mapping {
            let periods = try Self.periodsPerYear(request.periodsPerYear)
            let riskFree = try Self.rate(request.riskFreeRate, field: "risk_free_rate")
            let required = try Self.rate(request.requiredReturn, field: "required_return")
            let returns = try await series(request.series, field: "series", context: context).returns
            var undefined: [Undefined] = []
            var response = Ultracore_Holdings_V1_ComputeSharpeResponse()
            response.observations = Int32(returns.count)
            let sharpe = ReturnStatistics.sharpe(returns, riskFree: riskFree, periodsPerYear: periods)
            response.sharpe = sharpe.value
            if let reason = sharpe.undefined { undefined.append(Undefined(statistic: "sharpe", reason: reason)) }
            let sortino = ReturnStatistics.sortino(returns, required: required, periodsPerYear: periods)
            response.sortino = sortino.value
            if let reason = sortino.undefined { undefined.append(Undefined(statistic: "sortino", reason: reason)) }
            response.downsideRisk = ReturnStatistics.downsideRisk(returns, required: required, periodsPerYear: periods)
            response.undefined = Self.proto(undefined)
            return response
        }
    }

    public func computeMaxDrawdown(request: Ultracore_Holdings_V1_ComputeMaxDrawdownRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ComputeMaxDrawdownResponse {
        try await ServiceError.mapping {
            let series = try await series(request.series, field: "series", context: context)
            let drawdown = series.exactValues.map(ReturnStatistics.drawdown(values:)) ?? ReturnStatistics.drawdown(series.returns)
            var response = Ultracore_Holdings_V1_ComputeMaxDrawdownResponse()
            response.maxDrawdown = drawdown.maxDrawdown
            response.peakIndex = Int32(drawdown.peak)
            response.troughIndex = Int32(drawdown.trough)
            response.recoveryIndex = Int32(drawdown.recovery ?? -1)
            response.durationPeriods = Int32(drawdown.duration)
            // Wealth index i is after the i-th return: values carry a time per index, returns
            // a time per period end (index 0, the start, then has none).
            func time(_ index: Int) -> Google_Protobuf_Timestamp? {
                guard let times = series.times else { return nil }
                let position = series.values == nil ? index - 1 : index
                return times.indices.contains(position) ? times[position].timestamp : nil
            }
            response.peakTime = time(drawdown.peak)
            response.troughTime = time(drawdown.trough)
            if let recovery = drawdown.recovery { response.recoveryTime = time(recovery) }
            return response
        }
    }

    public func computeAlphaBeta(request: Ultracore_Holdings_V1_ComputeAlphaBetaRequest, context: ServerContext) async throws -> Ultracore_Holdings_V1_ComputeAlphaBetaResponse {
        try await ServiceError.mapping {
            let periods = try Self.periodsPerYear(request.periodsPerYear)
            let riskFree = try Self.rate(request.riskFreeRate, field: "risk_free_rate")
            let portfolio = try await series(request.series, field: "series", context: context)
            let benchmark = try await series(request.benchmark, field: "benchmark", context: context)
            guard portfolio.returns.count == benchmark.returns.count else {
                throw DomainError.invalidArgument(field: "benchmark",
                    reason: "gives \(benchmark.returns.count) returns, the series \(portfolio.returns.count); they must match")
            }
            let relative = ReturnStatistics.relative(portfolio.returns, benchmark: benchmark.returns, riskFree: riskFree, periodsPerYear: periods)
            var response = Ultracore_Holdings_V1_ComputeAlphaBetaResponse()
            response.alpha = relative.alpha
            response.beta = relative.beta
            response.rSquared = relative.rSquared
            response.informationRatio = relative.informationRatio
            response.trackingError = relative.trackingError
            response.observations = Int32(portfolio.returns.count)
            response.undefined = Self.proto(relative.undefined)
            return response
        }
    }
}
