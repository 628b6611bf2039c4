import Domain
import HoldingsProto
import Testing

@Suite struct ExactDecimalTests {
    @Test(arguments: [
        ("0", "0"), ("1", "1"), ("-1.50", "-1.5"), ("0012.3400", "12.34"), ("0.000000000000000001", "0.000000000000000001"),
        ("-0", "0"), ("123456789012345678.5", "123456789012345678.5"),
    ])
    func parsesAndPrintsCanonically(input: String, canonical: String) throws {
        let value = try #require(ExactDecimal(input))
        #expect(value.description == canonical)
        #expect(ExactDecimal(canonical) == value)
    }

    @Test("printing: random canonical decimals of every length and scale print as written and parse back")
    func printsRandomDecimals() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            // A canonical text: no leading zeros, no trailing fractional zeros, "0" before a point.
            let integerDigits = Int.random(in: 0...18, using: &generator)
            let fractionDigits = Int.random(in: 0...18, using: &generator)
            var integer = integerDigits == 0 ? "0" : String(Int.random(in: 1...9, using: &generator))
            for _ in 1..<max(1, integerDigits) { integer += String(Int.random(in: 0...9, using: &generator)) }
            var fraction = ""
            for _ in 0..<fractionDigits { fraction += String(Int.random(in: 0...9, using: &generator)) }
            while fraction.hasSuffix("0") { fraction.removeLast() }
            var text = fraction.isEmpty ? integer : integer + "." + fraction
            if text != "0" && Bool.random(using: &generator) { text = "-" + text }
            guard integer.count + fraction.count <= 36, let value = ExactDecimal(text) else { continue }
            #expect(value.description == text)
        }
        // Beyond 64 bits of significand (products before rounding) the slow path prints the same way.
        let big = try ExactDecimal("999999999999999999")!.multiplied(by: ExactDecimal("999999999999999999")!)
        #expect(big.description == "999999999999999998000000000000000001")
        #expect(try ExactDecimal("-0.000000001")!.multiplied(by: ExactDecimal("1000")!).description == "-0.000001")
    }

    @Test("division rounds half-even at the target scale, for random operands of every sign and size")
    func randomDivisions() throws {
        var generator = SystemRandomNumberGenerator()
        func random() -> String {
            let digits = Int.random(in: 1...17, using: &generator)
            var text = String(Int.random(in: 1...9, using: &generator))
            for _ in 1..<digits { text += String(Int.random(in: 0...9, using: &generator)) }
            let point = Int.random(in: 0...min(digits - 1, 10), using: &generator)
            if point > 0 { text.insert(".", at: text.index(text.endIndex, offsetBy: -point)) }
            return (Bool.random(using: &generator) ? "-" : "") + text
        }
        for _ in 0..<20_000 {
            let (a, b) = (random(), random())
            guard let x = ExactDecimal(a), let y = ExactDecimal(b), let quotient = try? x.divided(by: y) else { continue }
            // Reference: the exact rational a/b times 10^10, rounded half-even, in integers.
            let (an, ascale) = Self.integer(a), (bn, bscale) = Self.integer(b)
            var numerator = an * Self.ten(10 + bscale), denominator = bn * Self.ten(ascale)
            if denominator < 0 { (numerator, denominator) = (-numerator, -denominator) }
            var q = numerator / denominator
            let r = numerator % denominator
            if 2 * abs(r) > denominator || (2 * abs(r) == denominator && q % 2 != 0) { q += numerator < 0 ? -1 : 1 }
            #expect(quotient == ExactDecimal(Self.text(q, scale: 10)), "\(a) / \(b)")
        }
    }

    static func integer(_ text: String) -> (Int128, Int) {
        let parts = text.split(separator: ".")
        let scale = parts.count == 2 ? parts[1].count : 0
        return (Int128(parts.joined())!, scale)
    }

    static func ten(_ exponent: Int) -> Int128 { (0..<exponent).reduce(Int128(1)) { value, _ in value * 10 } }

    static func text(_ value: Int128, scale: Int) -> String {
        var digits = String(value.magnitude)
        while digits.count <= scale { digits = "0" + digits }
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        return (value < 0 ? "-" : "") + digits
    }

    @Test(arguments: ["", "-", ".", "1.", ".5", "1e5", "+1", "1,000", " 1", "1 ", "--1", "1.2.3", "0x10",
                      "0.0000000000000000001", String(repeating: "9", count: 37)])
    func rejectsWhatIsNotAContractDecimal(input: String) {
        #expect(ExactDecimal(input) == nil)
    }

    @Test func arithmeticIsExact() throws {
        let a = try #require(ExactDecimal("0.1"))
        let b = try #require(ExactDecimal("0.2"))
        #expect(try a.adding(b) == ExactDecimal("0.3"))
        #expect(try ExactDecimal("10")!.multiplied(by: ExactDecimal("150.25")!).adding(ExactDecimal("1.5")!).description == "1504")
        #expect(try ExactDecimal("1")!.subtracting(ExactDecimal("1.000001")!).description == "-0.000001")
        #expect(try ExactDecimal("1")!.divided(by: ExactDecimal("3")!).description == "0.3333333333")
        #expect(try ExactDecimal("2")!.divided(by: ExactDecimal("3")!).description == "0.6666666667")
        // Half to even at the last place.
        #expect(try ExactDecimal("0.00000000005")!.divided(by: ExactDecimal("1")!).description == "0")
        #expect(try ExactDecimal("0.00000000015")!.divided(by: ExactDecimal("1")!).description == "0.0000000002")
        #expect(throws: ExactDecimal.ArithmeticError.divisionByZero) { try ExactDecimal("1")!.divided(by: .zero) }
        let huge = try #require(ExactDecimal(String(repeating: "9", count: 30)))
        #expect(throws: ExactDecimal.ArithmeticError.outOfRange) { try huge.multiplied(by: huge) }
        #expect(try ExactDecimal("0.2498750625")!.multiplied(by: ExactDecimal("0.2498750625")!, scale: 10).description == "0.0624375469")
        #expect(try ExactDecimal("1.25")!.multiplied(by: ExactDecimal("0.5")!, scale: 2).description == "0.62")  // half to even
        #expect(try ExactDecimal("1.5")!.multiplied(by: ExactDecimal("3")!, scale: 2).description == "4.5")
        #expect(ExactDecimal("1.5")! < ExactDecimal("1.51")!)
        #expect(ExactDecimal("-2")! < ExactDecimal("1")!)
    }
}

@Suite struct PositionTests {
    static let t0 = Instant(microseconds: 1_735_689_600_000_000)  // 2025-01-01T00:00:00Z

    func request(_ quantity: String, _ price: String, fees: String = "") -> Ultracore_Holdings_V1_OpenPositionRequest {
        var request = Ultracore_Holdings_V1_OpenPositionRequest()
        request.clientId = "c1"
        request.ticker = "AAPL"
        request.quantity = quantity
        request.price = price
        request.fees = fees
        return request
    }

    func context(_ id: String, _ at: Instant) -> EventContext {
        EventContext(eventId: id, occurredAt: at, correlationId: id, causationId: id, source: "test", requestId: "")
    }

    @Test func buysOpenThenAddLotsAndReplayingTheEventsGivesTheSameState() throws {
        let first = try OpenPositionCommand(request("10", "150.25", fees: "1.5"), now: Self.t0)
        let opened = try first.decide(existing: nil, newPositionId: "p1", context: context("e1", Self.t0))
        #expect(opened.eventType == .positionOpened && opened.aggregateVersion == 1)
        var live = try PositionState.opened(by: opened)
        let second = try OpenPositionCommand(request("2.5", "160"), now: Self.t0)
        let later = Instant(microseconds: Self.t0.microseconds + 1_000_000)
        let added = try second.decide(existing: live, newPositionId: "unused", context: context("e2", later))
        #expect(added.eventType == .lotAdded && added.aggregateVersion == 2 && added.aggregateId == "p1")
        try live.apply(added)
        #expect(live.quantity == ExactDecimal("12.5"))
        #expect(live.costBasis == ExactDecimal("1904"))
        #expect(live.lots.map(\.lotId) == ["L1", "L2"])
        // Events survive the wire: decode and replay.
        var replayed = try PositionState.opened(by: Ultracore_Holdings_V1_Event(serializedBytes: opened.serializedBytes()))
        try replayed.apply(Ultracore_Holdings_V1_Event(serializedBytes: added.serializedBytes()))
        #expect(replayed == live)
        let proto = live.proto(now: later)
        #expect(proto.averageCost == "152.32" && proto.quantity == "12.5" && proto.version == 2)
        #expect(proto.marketValue.isEmpty)
    }

    @Test func eventsOutOfOrderOrForAnotherAggregateAreRefused() throws {
        let command = try OpenPositionCommand(request("1", "1"), now: Self.t0)
        let opened = try command.decide(existing: nil, newPositionId: "p1", context: context("e1", Self.t0))
        var position = try PositionState.opened(by: opened)
        var skipped = try command.decide(existing: position, newPositionId: "", context: context("e2", Self.t0))
        skipped.aggregateVersion = 3
        #expect(throws: DomainError.self) { try position.apply(skipped) }
        #expect(throws: DomainError.self) { try position.apply(opened) }
        #expect(position.version == 1)
    }

    @Test func validationNamesTheField() {
        func field(_ mutate: (inout Ultracore_Holdings_V1_OpenPositionRequest) -> Void) -> String? {
            var r = request("1", "1")
            mutate(&r)
            do { _ = try OpenPositionCommand(r, now: Self.t0); return nil } catch {
                if case .invalidArgument(let field, _) = error { return field }
                return "?"
            }
        }
        #expect(field { $0.clientId = "" } == "client_id")
        #expect(field { $0.ticker = "brk.b" } == "ticker")
        #expect(field { $0.quantity = "0" } == "quantity")
        #expect(field { $0.price = "-3" } == "price")
        #expect(field { $0.fees = "x" } == "fees")
        #expect(field { $0.tradeTime = Google_Protobuf_Timestamp() ; $0.tradeTime!.nanos = 1_000_000_000 } == "trade_time")
        #expect(field { _ in } == nil)
    }

    @Test func holdingPeriodStartsTheDayAfterAcquisition() {
        let day: Int64 = 86_400_000_000
        let bought = Instant(microseconds: 1_741_996_800_000_000)  // 2025-03-15
        #expect(HoldingPeriod.term(acquired: bought, at: Instant(microseconds: bought.microseconds + 365 * day)) == .short)  // 2026-03-15
        #expect(HoldingPeriod.term(acquired: bought, at: Instant(microseconds: bought.microseconds + 366 * day)) == .long)  // 2026-03-16
    }
}
