#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HoldingsProto

/// Robust location and scale of a window: the median and 1.4826 × the median absolute
/// deviation (consistent with σ for normal data).
public struct RobustScale: Sendable, Hashable {
    public var median: Double
    public var scale: Double

    /// The scale constant that makes the MAD estimate σ under normality.
    public static let consistency = 1.4826

    public init(_ window: some Collection<Double>) {
        let sorted = window.sorted()
        let center = Self.median(sorted: sorted)
        median = center
        scale = Self.consistency * Self.median(sorted: sorted.map { abs($0 - center) }.sorted())
    }

    static func median(sorted: [Double]) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// (x − median) ÷ scale; nil when the window has no dispersion.
    public func z(_ x: Double) -> Double? {
        scale > 0 ? (x - median) / scale : nil
    }
}

/// DetectAnomalies: valuation jumps, trade sizes and trade prices against the reference
/// windows agent.proto describes. Deterministic: the same events give the same anomalies.
public struct AnomalyDetector: Sendable {
    /// |z| above which an observation is flagged.
    public var threshold: Double
    /// Observations in a reference window.
    public var lookback: Int
    /// A window needs this many observations before it can flag.
    public static let minimumWindow = 10
    /// RiskMetrics' decay of the EWMA variance.
    public static let lambda = 0.94

    public init(threshold: Double, lookback: Int) {
        self.threshold = threshold
        self.lookback = lookback
    }

    /// A bounded window of the last observations.
    struct Window {
        var values: [Double] = []
        var start = 0
        let capacity: Int

        init(capacity: Int) { self.capacity = capacity }

        var count: Int { values.count }
        var elements: some Collection<Double> { values[start...] + values[..<start] }

        mutating func append(_ value: Double) {
            if values.count < capacity {
                values.append(value)
            } else {
                values[start] = value
                start = (start + 1) % capacity
            }
        }
    }

    /// The state of one ticker's price series.
    struct PriceSeries {
        var last: Double?
        var moves: Window
        /// EWMA variance forecast of the next move, once the window first filled to the minimum.
        var variance: Double?
        var seeded: [Double] = []
    }

    public struct Result: Sendable {
        /// Newest first (occurred_at, then event id, both descending).
        public var anomalies: [Ultracore_Holdings_V1_Anomaly]
        public var examined: Int
    }

    /// A trade read from an event: its ticker, price and size.
    struct Trade {
        var ticker: String
        var price: Double
        var priceText: String
        var quantity: ExactDecimal
        var exactPrice: ExactDecimal
    }

    /// Scans `events` (log time order) and returns what stands out.
    public func detect(_ events: [Ultracore_Holdings_V1_Event]) -> Result {
        var series: [String: PriceSeries] = [:]
        var sizes = Window(capacity: lookback)
        var anomalies: [Ultracore_Holdings_V1_Anomaly] = []
        var examined = 0

        func anomaly(_ kind: Ultracore_Holdings_V1_AnomalyKind, _ event: Ultracore_Holdings_V1_Event, ticker: String, position: String,
                     observed: String, expected: String, z: Double, ewma: Double = 0, reason: String) {
            var found = Ultracore_Holdings_V1_Anomaly()
            found.kind = kind
            found.eventId = event.eventId
            found.eventType = event.eventType
            found.positionId = position
            found.ticker = ticker
            found.observed = observed
            found.expected = expected
            found.zScore = z
            found.ewmaZScore = ewma
            found.reason = reason
            if let time = event.occurredAt { found.occurredAt = time }
            anomalies.append(found)
        }

        /// A new price of `ticker`: scores its log move, then takes it into the window.
        func price(_ value: Double, text: String, ticker: String, event: Ultracore_Holdings_V1_Event, position: String, trade: Bool) {
            var state = series[ticker] ?? PriceSeries(moves: Window(capacity: lookback))
            defer { series[ticker] = state }
            guard let last = state.last, value > 0, last > 0 else {
                state.last = value
                return
            }
            state.last = value
            let move = log(value / last)
            guard move.isFinite else { return }
            examined += 1
            if state.moves.count >= Self.minimumWindow {
                let robust = RobustScale(state.moves.elements)
                let ewmaZ = state.variance.flatMap { $0 > 0 ? move / $0.squareRoot() : nil }
                if let z = robust.z(move), abs(z) > threshold, trade || (ewmaZ.map { abs($0) > threshold } ?? false) {
                    let expected = last * exp(robust.median)
                    let percent = format(100 * (value / last - 1), places: 2)
                    let usual = format(100 * (exp(robust.scale) - 1), places: 2)
                    if trade {
                        anomaly(.tradePrice, event, ticker: ticker, position: position, observed: text, expected: format(expected, places: 6), z: z,
                                reason: "\(ticker) traded at \(text), \(percent) % from its last price \(format(last, places: 6)); its usual move is ±\(usual) % (robust σ of the last \(state.moves.count) moves): robust z \(format(z, places: 2))")
                    } else {
                        anomaly(.valuationJump, event, ticker: ticker, position: position, observed: text, expected: format(expected, places: 6), z: z,
                                ewma: ewmaZ ?? 0,
                                reason: "\(ticker) was valued at \(text), a move of \(percent) % from \(format(last, places: 6)); its usual move is ±\(usual) % (robust σ of the last \(state.moves.count) moves): robust z \(format(z, places: 2)), EWMA z \(format(ewmaZ ?? 0, places: 2))")
                    }
                }
            }
            if let variance = state.variance {
                state.variance = Self.lambda * variance + (1 - Self.lambda) * move * move
            } else {
                state.seeded.append(move)
                if state.seeded.count == Self.minimumWindow {
                    state.variance = ReturnStatistics.sum(state.seeded.lazy.map { $0 * $0 }) / Double(state.seeded.count)
                    state.seeded = []
                }
            }
            state.moves.append(move)
        }

        func trade(_ trade: Trade, event: Ultracore_Holdings_V1_Event, position: String) {
            guard let notional = try? trade.quantity.multiplied(by: trade.exactPrice), notional.isPositive else { return }
            let size = log(notional.doubleValue)
            examined += 1
            if sizes.count >= Self.minimumWindow, size.isFinite {
                let robust = RobustScale(sizes.elements)
                if let z = robust.z(size), abs(z) > threshold {
                    anomaly(.tradeSize, event, ticker: trade.ticker, position: position, observed: notional.description,
                            expected: format(exp(robust.median), places: 2), z: z,
                            reason: "a \(trade.ticker) trade of \(notional.description) (\(trade.quantity.description) × \(trade.priceText)) against a usual size of \(format(exp(robust.median), places: 2)) (median of the last \(sizes.count) trades): robust z of the log size \(format(z, places: 2))")
                }
            }
            if size.isFinite { sizes.append(size) }
            price(trade.price, text: trade.priceText, ticker: trade.ticker, event: event, position: position, trade: true)
        }

        for event in events {
            switch event.payload {
            case .positionOpened(let opened)?:
                if let bought = Self.buy([opened.lot].compactMap { $0 } + opened.washSaleLots, matches: opened.washSaleMatches, ticker: opened.ticker) {
                    trade(bought, event: event, position: opened.positionId)
                }
            case .lotAdded(let added)?:
                if let bought = Self.buy([added.lot].compactMap { $0 } + added.washSaleLots, matches: added.washSaleMatches, ticker: added.ticker) {
                    trade(bought, event: event, position: added.positionId)
                }
            case .lotsSold(let sold)?:
                if let price = ExactDecimal(sold.price), let quantity = ExactDecimal(sold.quantity) {
                    trade(Trade(ticker: sold.ticker, price: price.doubleValue, priceText: sold.price, quantity: quantity, exactPrice: price),
                          event: event, position: sold.positionId)
                }
            case .positionClosed(let closed)?:
                var quantity = ExactDecimal.zero
                for lot in closed.realized { quantity = (try? quantity.adding(ExactDecimal(lot.quantity) ?? .zero)) ?? quantity }
                if let price = ExactDecimal(closed.price) {
                    trade(Trade(ticker: closed.ticker, price: price.doubleValue, priceText: closed.price, quantity: quantity, exactPrice: price),
                          event: event, position: closed.positionId)
                }
            case .tradeExecuted(let executed)?:
                if let price = ExactDecimal(executed.price), let quantity = ExactDecimal(executed.quantity) {
                    trade(Trade(ticker: executed.ticker, price: price.doubleValue, priceText: executed.price, quantity: quantity, exactPrice: price),
                          event: event, position: executed.positionId)
                }
            case .positionValued(let valued)?:
                if let value = ExactDecimal(valued.price) {
                    price(value.doubleValue, text: valued.price, ticker: valued.ticker, event: event, position: valued.positionId, trade: false)
                }
            case .corporateActionApplied(let action)? where action.type == .split:
                // The price before a split is restated in post-split shares, so the split is no move.
                if let to = ExactDecimal(action.splitTo), let from = ExactDecimal(action.splitFrom), to.isPositive, from.isPositive,
                   let last = series[action.ticker]?.last {
                    series[action.ticker]?.last = last * from.doubleValue / to.doubleValue
                }
            default:
                break
            }
        }
        anomalies.sort { a, b in
            let (ta, tb) = (a.occurredAt.map { ($0.seconds, $0.nanos) } ?? (0, 0), b.occurredAt.map { ($0.seconds, $0.nanos) } ?? (0, 0))
            return ta != tb ? ta > tb : a.eventId > b.eventId
        }
        return Result(anomalies: anomalies, examined: examined)
    }

    /// A buy's trade from its lots (the lots of one buy share its price): price =
    /// (Σ basis − Σ fees − Σ losses the wash sales added to the basis) ÷ Σ quantity.
    static func buy(_ lots: [Ultracore_Holdings_V1_Lot], matches: [Ultracore_Holdings_V1_WashSaleMatch], ticker: String) -> Trade? {
        var quantity = ExactDecimal.zero, cost = ExactDecimal.zero
        for match in matches {
            guard let loss = ExactDecimal(match.disallowedLoss), let rest = try? cost.subtracting(loss) else { return nil }
            cost = rest
        }
        for lot in lots {
            guard let shares = ExactDecimal(lot.originalQuantity.isEmpty ? lot.quantity : lot.originalQuantity),
                  let basis = ExactDecimal(lot.costBasis), let fees = ExactDecimal(lot.fees.isEmpty ? "0" : lot.fees),
                  let sum = try? quantity.adding(shares), let net = try? basis.subtracting(fees), let total = try? cost.adding(net) else { return nil }
            (quantity, cost) = (sum, total)
        }
        guard quantity.isPositive, let price = try? cost.divided(by: quantity, scale: 10), price.isPositive else { return nil }
        return Trade(ticker: ticker, price: price.doubleValue, priceText: price.description, quantity: quantity, exactPrice: price)
    }
}

/// `value` with a fixed number of decimal places (half away from zero), for words and
/// decimal strings of figures computed in floating point.
public func format(_ value: Double, places: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    let scale = pow(10, Double(places))
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let units = UInt64(scaled)
    let divisor = UInt64(scale)
    var text = String(units / divisor)
    if places > 0 {
        let fraction = String(units % divisor)
        text += "." + String(repeating: "0", count: places - fraction.count) + fraction
    }
    return value < 0 && units > 0 ? "-" + text : text
}
