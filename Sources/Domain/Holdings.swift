import HoldingsProto

/// Who and what caused an event: filled by the service for each command.
public struct EventContext: Sendable {
    public var eventId: String
    public var occurredAt: Instant
    public var correlationId: String
    public var causationId: String
    public var source: String
    public var requestId: String
    /// Who caused the change ("<proof>:<subject>", or "holdingsd").
    public var actor: String

    public init(eventId: String, occurredAt: Instant, correlationId: String, causationId: String, source: String, requestId: String, actor: String = "holdingsd") {
        self.actor = actor
        self.eventId = eventId
        self.occurredAt = occurredAt
        self.correlationId = correlationId
        self.causationId = causationId
        self.source = source
        self.requestId = requestId
    }
}

extension EventContext {
    /// The envelope of one event of `aggregateId` at `version`: ids, lineage, time, schema
    /// version 1 and a quality score of 100; the caller sets the type and payload.
    public func envelope(aggregateId: String, version: Int64, clientId: String) -> Ultracore_Holdings_V1_Event {
        var event = Ultracore_Holdings_V1_Event()
        event.eventId = eventId
        event.aggregateId = aggregateId
        event.aggregateVersion = version
        event.occurredAt = occurredAt.timestamp
        event.correlationId = correlationId
        event.causationId = causationId
        event.source = source
        event.schemaVersion = 1
        event.qualityScore = 100
        event.clientId = clientId
        event.requestId = requestId
        event.actor = actor
        return event
    }
}

/// A validated buy.
public struct OpenPositionCommand: Sendable, Hashable {
    public var clientId: String
    public var ticker: String
    /// Shares bought, > 0.
    public var quantity: ExactDecimal
    /// Price per share, > 0.
    public var price: ExactDecimal
    /// Fees added to the basis, >= 0.
    public var fees: ExactDecimal
    public var tradeTime: Instant

    /// Validates a request field by field; the error names the first bad field.
    public init(_ request: Ultracore_Holdings_V1_OpenPositionRequest, now: Instant) throws(DomainError) {
        clientId = try Validation.identifier(request.clientId, field: "client_id")
        ticker = try Validation.ticker(request.ticker)
        quantity = try Validation.quantity(request.quantity, field: "quantity")
        price = try Validation.price(request.price, field: "price")
        fees = try Validation.fees(request.fees)
        tradeTime = try Validation.tradeTime(request.tradeTime, now: now)
        guard let basis = try? quantity.multiplied(by: price, scale: 18).adding(fees), Limits.contains(basis) else {
            throw .invalidArgument(field: "quantity", reason: "× price + fees is beyond the documented range of ±10^15")
        }
    }

    /// The event of this buy: POSITION_OPENED when the client holds no open position in
    /// the ticker (`existing` nil), LOT_ADDED to `existing` otherwise.
    /// `washLosses`: the client's unmatched losses in the ticker (WashSales): a buy within 30
    /// days of one is split into replacement lots carrying the disallowed loss.
    public func decide(existing: PositionState?, newPositionId: String, context: EventContext,
                       washLosses: [WashLoss] = []) throws(DomainError) -> Ultracore_Holdings_V1_Event {
        let basis: ExactDecimal
        do { basis = try quantity.multiplied(by: price, scale: 18).adding(fees) } catch {
            throw .invalidArgument(field: "quantity", reason: "quantity × price is out of range")
        }
        if let existing {
            guard existing.status == .open, existing.clientId == clientId, existing.ticker == ticker else {
                throw .failedPrecondition("position \(existing.positionId) is not the open \(ticker) position of \(clientId)")
            }
        }
        let positionId = existing?.positionId ?? newPositionId
        let number = existing?.nextLot ?? 1
        let bought = LotState(lotId: "L\(number)", sequence: number, acquiredAt: tradeTime, quantity: quantity,
                              originalQuantity: quantity, costBasis: basis, fees: fees, sourceEventId: context.eventId)
        let (lots, matches) = try WashSales.matchBuy(bought, positionId: positionId, losses: washLosses)
        let protos = lots.map { $0.proto(now: tradeTime, lastPrice: nil) }

        var event = context.envelope(aggregateId: positionId, version: (existing?.version ?? 0) + 1, clientId: clientId)
        if existing != nil {
            var added = Ultracore_Holdings_V1_LotAdded()
            added.positionId = positionId
            added.clientId = clientId
            added.ticker = ticker
            added.lot = protos[0]
            added.washSaleLots = Array(protos.dropFirst())
            added.washSaleMatches = matches
            event.eventType = .lotAdded
            event.payload = .lotAdded(added)
        } else {
            var opened = Ultracore_Holdings_V1_PositionOpened()
            opened.positionId = positionId
            opened.clientId = clientId
            opened.ticker = ticker
            opened.lot = protos[0]
            opened.washSaleLots = Array(protos.dropFirst())
            opened.washSaleMatches = matches
            event.eventType = .positionOpened
            event.payload = .positionOpened(opened)
        }
        return event
    }
}

/// Field checks shared by every command; errors name the field.
public enum Validation {
    /// A count that bounds an answer: 0 means `fallback`, 1 to `maximum` as given; negative or
    /// larger is refused.
    public static func limit(_ value: Int32, fallback: Int, maximum: Int, field: String) throws(DomainError) -> Int {
        guard value >= 0, Int(value) <= maximum else {
            throw .invalidArgument(field: field, reason: "must be 0 (meaning \(fallback)) to \(maximum), not \(value)")
        }
        return value == 0 ? fallback : Int(value)
    }

    /// Position.lots of an answer: `max_lots` of its request.
    public static func maxLots(_ value: Int32) throws(DomainError) -> Int {
        try limit(value, fallback: PositionState.defaultMaxLots, maximum: 100_000, field: "max_lots")
    }

    /// A client or other caller-chosen id: 1–128 printable ASCII characters, no spaces.
    public static func identifier(_ value: String, field: String) throws(DomainError) -> String {
        guard !value.isEmpty else { throw .invalidArgument(field: field, reason: "is required") }
        guard value.utf8.count <= 128 else { throw .invalidArgument(field: field, reason: "is longer than 128 bytes") }
        guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw .invalidArgument(field: field, reason: "must be printable ASCII without spaces")
        }
        return value
    }

    /// Whether `text` is a UUID in its 36-character form (hex digits of either case).
    public static func isUUID(_ text: String) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            switch index {
            case 8, 13, 18, 23:
                guard byte == UInt8(ascii: "-") else { return false }
            default:
                guard (byte >= 48 && byte <= 57) || (byte >= 97 && byte <= 102) || (byte >= 65 && byte <= 70) else { return false }
            }
        }
        return true
    }

    /// 1–12 characters of A–Z, 0–9, '.', '-'.
    public static func ticker(_ value: String) throws(DomainError) -> String {
        guard !value.isEmpty else { throw .invalidArgument(field: "ticker", reason: "is required") }
        guard value.utf8.count <= 12, value.utf8.allSatisfy({
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }) else {
            throw .invalidArgument(field: "ticker", reason: "must be 1–12 characters of A–Z, 0–9, '.', '-'")
        }
        return value
    }

    /// A timestamp of the request as an instant; INVALID_ARGUMENT naming `field` when it is
    /// outside 0001–9999 or its nanos are invalid.
    public static func instant(_ time: Google_Protobuf_Timestamp, field: String) throws(DomainError) -> Instant {
        guard let instant = Instant(time) else { throw .invalidArgument(field: field, reason: "is not a valid timestamp") }
        return instant
    }

    /// A trade, price or corporate-action time: unset means `now`; from 1900-01-01T00:00:00Z
    /// to a day ahead of the server clock.
    public static func tradeTime(_ time: Google_Protobuf_Timestamp?, now: Instant, field: String = "trade_time") throws(DomainError) -> Instant {
        guard let time else { return now }
        let instant = try instant(time, field: field)
        guard instant <= Instant(microseconds: now.microseconds + 86_400_000_000) else {
            throw .invalidArgument(field: field, reason: "is more than a day in the future")
        }
        guard instant >= Limits.earliest else {
            throw .invalidArgument(field: field, reason: "is before 1900-01-01T00:00:00Z")
        }
        return instant
    }

    /// A quantity of shares or a price: > 0, at most 10^15, at most 10 fractional digits.
    public static func quantity(_ value: String, field: String) throws(DomainError) -> ExactDecimal {
        let decimal = try positive(value, field: field)
        try inputScale(decimal, field: field)
        return decimal
    }

    /// A price per share: the same range as a quantity.
    public static func price(_ value: String, field: String) throws(DomainError) -> ExactDecimal {
        try quantity(value, field: field)
    }

    /// Fees: empty means 0; otherwise >= 0, at most 10^15, at most 10 fractional digits.
    public static func fees(_ value: String, field: String = "fees") throws(DomainError) -> ExactDecimal {
        guard !value.isEmpty else { return .zero }
        let decimal = try nonNegative(value, field: field)
        try inputScale(decimal, field: field)
        return decimal
    }

    private static func inputScale(_ value: ExactDecimal, field: String) throws(DomainError) {
        guard value.scale <= Limits.inputScale else {
            throw .invalidArgument(field: field, reason: "has more than \(Limits.inputScale) decimal places")
        }
    }

    public static func decimal(_ value: String, field: String) throws(DomainError) -> ExactDecimal {
        guard !value.isEmpty else { throw .invalidArgument(field: field, reason: "is required") }
        guard let decimal = ExactDecimal(value) else {
            throw .invalidArgument(field: field, reason: "'\(value.prefix(40))' is not a decimal (digits, optional '-' and '.', at most 18 decimals)")
        }
        guard Limits.contains(decimal) else {
            throw .invalidArgument(field: field, reason: "is beyond the documented range of ±10^15")
        }
        return decimal
    }

    public static func positive(_ value: String, field: String) throws(DomainError) -> ExactDecimal {
        let decimal = try decimal(value, field: field)
        guard decimal.isPositive else { throw .invalidArgument(field: field, reason: "must be more than 0") }
        return decimal
    }

    public static func nonNegative(_ value: String, field: String) throws(DomainError) -> ExactDecimal {
        let decimal = try decimal(value, field: field)
        guard !decimal.isNegative else { throw .invalidArgument(field: field, reason: "must not be negative") }
        return decimal
    }
}

// MARK: Rendering

extension PositionState {
    /// How many lots a position answer carries when the request does not say (Position.lots).
    public static let defaultMaxLots = 1_000

    /// The contract's view of the position at `now` (terms and values depend on it), with
    /// at most `maxLots` of its open lots after the first `lotsOffset` (acquisition order).
    public func proto(now: Instant, maxLots: Int = PositionState.defaultMaxLots, lotsOffset: Int = 0) -> Ultracore_Holdings_V1_Position {
        var position = Ultracore_Holdings_V1_Position()
        position.positionId = positionId
        position.clientId = clientId
        position.ticker = ticker
        position.status = status == .open ? .open : .closed
        let quantity = self.quantity
        let basis = costBasis
        position.quantity = quantity.description
        position.costBasis = basis.description
        if !quantity.isZero { position.averageCost = ((try? basis.divided(by: quantity)) ?? .zero).description }
        if let lastPrice {
            position.lastPrice = lastPrice.description
            position.lastPricedAt = lastPricedAt?.timestamp
            if let value = try? quantity.multiplied(by: lastPrice, scale: 18) {
                position.marketValue = value.description
                position.unrealizedGain = ((try? value.subtracting(basis)) ?? .zero).description
            }
        }
        position.realizedGain = realizedGain.description
        let first = min(max(0, lotsOffset), lots.count)
        let end = max(0, maxLots) >= lots.count - first ? lots.count : first + max(0, maxLots)
        position.lots = lots[first..<end].map { $0.proto(now: now, lastPrice: lastPrice) }
        position.lotCount = Int32(clamping: lots.count)
        position.openedAt = openedAt.timestamp
        position.closedAt = closedAt?.timestamp
        position.version = version
        position.updatedAt = updatedAt.timestamp
        return position
    }
}

extension LotState {
    public func proto(now: Instant, lastPrice: ExactDecimal?) -> Ultracore_Holdings_V1_Lot {
        var lot = Ultracore_Holdings_V1_Lot()
        lot.lotId = lotId
        lot.acquiredAt = acquiredAt.timestamp
        lot.quantity = quantity.description
        lot.originalQuantity = originalQuantity.description
        lot.unitCost = unitCost.description
        lot.costBasis = costBasis.description
        lot.fees = fees.description
        lot.term = HoldingPeriod.term(acquired: holdingStart, at: now) == .long ? .longTerm : .shortTerm
        if holdingStart != acquiredAt { lot.holdingPeriodStart = holdingStart.timestamp }
        if let washSaleAdjustment { lot.washSaleAdjustment = washSaleAdjustment.description }
        if let lastPrice, let value = try? quantity.multiplied(by: lastPrice, scale: 18) {
            lot.marketValue = value.description
            lot.unrealizedGain = ((try? value.subtracting(costBasis)) ?? .zero).description
        }
        lot.sourceEventId = sourceEventId
        return lot
    }
}

/// Holding period: long-term when held more than one year; the period starts the day
/// after acquisition, so a lot bought on 2025-03-15 is long-term from 2026-03-16 (UTC days).
public enum HoldingPeriod: Sendable {
    case short, long

    public static func term(acquired: Instant, at: Instant) -> HoldingPeriod {
        let (y, m, d) = civil(acquired)
        // One year later; 29 February maps to 28 February.
        let anniversary = (y + 1, m, (m == 2 && d == 29) ? 28 : d)
        let now = civil(at)
        return (now.0, now.1, now.2) > anniversary ? .long : .short
    }

    /// Proleptic Gregorian (year, month, day) of an instant, UTC.
    public static func civilDate(_ instant: Instant) -> (Int, Int, Int) { civil(instant) }

    /// Proleptic Gregorian (year, month, day) of an instant, UTC.
    static func civil(_ instant: Instant) -> (Int, Int, Int) {
        var days = instant.microseconds / 86_400_000_000
        if instant.microseconds % 86_400_000_000 < 0 { days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}
