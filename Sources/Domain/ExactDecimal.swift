/// An exact decimal number: `significand × 10^-scale`, always normalized (no trailing
/// fractional zeros), so equal values are equal structs. Quantities, prices and amounts
/// use it; binary floating point never touches money.
///
/// Range: |significand| < 10^36, scale 0...18. Operations that would leave that range
/// throw `.outOfRange` instead of rounding silently.
public struct ExactDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
    public private(set) var significand: Int128
    public private(set) var scale: Int

    public static let maxScale = 18
    static let limit: Int128 = {
        var value: Int128 = 1
        for _ in 0..<36 { value *= 10 }
        return value
    }()

    public enum ArithmeticError: Error, Sendable, Hashable {
        case outOfRange
        case divisionByZero
    }

    public static let zero = ExactDecimal(unchecked: 0, scale: 0)

    init(unchecked significand: Int128, scale: Int) {
        self.significand = significand
        self.scale = scale
        normalize()
    }

    public init(_ integer: Int) {
        self.init(unchecked: Int128(integer), scale: 0)
    }

    /// Parses the contract's decimal text: optional '-', digits, optional '.' and digits.
    /// No '+', exponent, spaces or separators. At most 18 fractional digits.
    public init?(_ text: some StringProtocol) {
        var utf8 = Substring(text).utf8[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        var value: Int128 = 0
        var scale = 0
        var digits = 0
        var seenPoint = false
        var fractionDigits = 0
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard !seenPoint, digits > 0 else { return nil }
                seenPoint = true
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int128(byte - UInt8(ascii: "0"))
            guard value < Self.limit else { return nil }
            digits += 1
            if seenPoint {
                fractionDigits += 1
                scale += 1
            }
        }
        guard digits > 0, !(seenPoint && fractionDigits == 0), scale <= Self.maxScale else { return nil }
        self.init(unchecked: negative ? -value : value, scale: scale)
    }

    private mutating func normalize() {
        guard scale > 0 else { return }
        // Most values fit 64 bits, where division is a machine instruction (Int128's is a call).
        if let small = Int64(exactly: significand) {
            var value = small, digits = scale
            while digits > 0, value % 10 == 0 {
                value /= 10
                digits -= 1
            }
            significand = Int128(value)
            scale = digits
            return
        }
        while scale > 0, significand % 10 == 0 {
            significand /= 10
            scale -= 1
        }
    }

    /// A value already normalized (the negation of one is).
    private init(normalized significand: Int128, scale: Int) {
        self.significand = significand
        self.scale = scale
    }

    public var isZero: Bool { significand == 0 }
    public var isNegative: Bool { significand < 0 }
    public var isPositive: Bool { significand > 0 }
    /// |self| (exact: every value is below 10^36 in magnitude).
    public var magnitude: ExactDecimal { isNegative ? ExactDecimal(normalized: -significand, scale: scale) : self }

    /// Whether |self| ≤ 10^`exponent` (one comparison of the significand with a power of ten).
    public func magnitudeIsAtMost(powerOfTen exponent: Int) -> Bool {
        let digits = exponent + scale
        guard digits >= 0 else { return significand == 0 }
        guard digits < Self.powers.count else { return true }  // |significand| < 10^36 ≤ 10^digits
        return significand.magnitude <= Self.powers[digits].magnitude
    }

    public var description: String {
        let magnitude = significand.magnitude
        guard magnitude <= UInt128(UInt64.max), scale >= 0, scale <= 40 else { return Self.slowDescription(significand, scale) }
        // Digits written right to left into one buffer (the point after `scale` of them, a zero
        // before it when the value is below 1): no intermediate strings (inserting the point
        // into a String was most of a rebalancing plan's text cost).
        var small = UInt64(magnitude)
        let negative = significand < 0
        // At most 20 digits, a point, 40 fractional zeros and a sign: 64 bytes on the stack, and a
        // result of up to 15 bytes stays a small (unallocated) string.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { buffer in
            var position = buffer.count
            var digits = 0
            repeat {
                position -= 1
                buffer[position] = 48 + UInt8(small % 10)
                small /= 10
                digits += 1
                if digits == scale {
                    position -= 1
                    buffer[position] = UInt8(ascii: ".")
                }
            } while small > 0 || digits <= scale
            if negative {
                position -= 1
                buffer[position] = UInt8(ascii: "-")
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[position...]), as: UTF8.self)
        }
    }

    private static func slowDescription(_ significand: Int128, _ scale: Int) -> String {
        var digits = String(significand.magnitude)
        if scale > 0 {
            if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return significand < 0 ? "-" + digits : digits
    }

    /// 10^0 … 10^38 (the largest power of ten an Int128 holds).
    private static let powers: [Int128] = {
        var values: [Int128] = [1]
        for _ in 1...38 { values.append(values[values.count - 1] * 10) }
        return values
    }()

    private static func power(_ exponent: Int) -> Int128 {
        if exponent >= 0 && exponent < powers.count { return powers[exponent] }
        var value: Int128 = 1
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Both significands at the larger scale.
    private static func aligned(_ a: ExactDecimal, _ b: ExactDecimal) throws(ArithmeticError) -> (Int128, Int128, Int) {
        if a.scale == b.scale { return (a.significand, b.significand, a.scale) }
        let scale = max(a.scale, b.scale)
        let (x, xo) = a.significand.multipliedReportingOverflow(by: power(scale - a.scale))
        let (y, yo) = b.significand.multipliedReportingOverflow(by: power(scale - b.scale))
        guard !xo, !yo else { throw .outOfRange }
        return (x, y, scale)
    }

    private static func checked(_ value: Int128, scale: Int) throws(ArithmeticError) -> ExactDecimal {
        let result = ExactDecimal(unchecked: value, scale: scale)
        guard result.scale <= maxScale, result.significand.magnitude < limit.magnitude else { throw .outOfRange }
        return result
    }

    public func adding(_ other: ExactDecimal) throws(ArithmeticError) -> ExactDecimal {
        let (x, y, scale) = try Self.aligned(self, other)
        let (sum, overflow) = x.addingReportingOverflow(y)
        guard !overflow else { throw .outOfRange }
        return try Self.checked(sum, scale: scale)
    }

    public func subtracting(_ other: ExactDecimal) throws(ArithmeticError) -> ExactDecimal {
        let (x, y, scale) = try Self.aligned(self, other)
        let (difference, overflow) = x.subtractingReportingOverflow(y)
        guard !overflow else { throw .outOfRange }
        return try Self.checked(difference, scale: scale)
    }

    public func multiplied(by other: ExactDecimal) throws(ArithmeticError) -> ExactDecimal {
        let (product, overflow) = significand.multipliedReportingOverflow(by: other.significand)
        guard !overflow else { throw .outOfRange }
        var result = ExactDecimal(unchecked: product, scale: scale + other.scale)
        guard result.scale <= Self.maxScale else {
            // More than 18 fractional digits only when both factors are very fine: keep it exact or refuse.
            throw .outOfRange
        }
        guard result.significand.magnitude < Self.limit.magnitude else { throw .outOfRange }
        result.normalize()
        return result
    }

    /// `self × other` rounded half-to-even to at most `scale` fractional digits (exact when it fits).
    public func multiplied(by other: ExactDecimal, scale target: Int) throws(ArithmeticError) -> ExactDecimal {
        let (product, overflow) = significand.multipliedReportingOverflow(by: other.significand)
        guard !overflow else { throw .outOfRange }
        let productScale = scale + other.scale
        guard productScale > target else { return try Self.checked(product, scale: productScale) }
        let divisor = Self.power(productScale - target)
        var quotient = product / divisor
        let remainder = (product % divisor).magnitude * 2
        if remainder > divisor.magnitude || (remainder == divisor.magnitude && quotient % 2 != 0) {
            quotient += product < 0 ? -1 : 1
        }
        return try Self.checked(quotient, scale: target)
    }

    /// `self ÷ divisor` rounded half-to-even to `scale` fractional digits.
    public func divided(by divisor: ExactDecimal, scale target: Int = 10) throws(ArithmeticError) -> ExactDecimal {
        guard !divisor.isZero else { throw .divisionByZero }
        // self/divisor = (a·10^-s) / (b·10^-t) = (a·10^(target+t-s)) / b · 10^-target
        let shift = target + divisor.scale - scale
        var numerator = significand
        var denominator = divisor.significand
        if shift >= 0 {
            let (n, overflow) = numerator.multipliedReportingOverflow(by: Self.power(shift))
            guard !overflow else { throw .outOfRange }
            numerator = n
        } else {
            let (d, overflow) = denominator.multipliedReportingOverflow(by: Self.power(-shift))
            guard !overflow else { throw .outOfRange }
            denominator = d
        }
        if denominator < 0 {
            numerator = -numerator
            denominator = -denominator
        }
        // One division for quotient and remainder, by the machine's 64-bit divide when both fit
        // (a portfolio's weights: 20,000 of these per read).
        let magnitude = numerator.magnitude, divisorMagnitude = denominator.magnitude
        var quotientMagnitude: UInt128, remainder: UInt128
        if magnitude <= UInt128(UInt64.max) && divisorMagnitude <= UInt128(UInt64.max) {
            let (q, r) = UInt64(magnitude).quotientAndRemainder(dividingBy: UInt64(divisorMagnitude))
            (quotientMagnitude, remainder) = (UInt128(q), UInt128(r))
        } else {
            (quotientMagnitude, remainder) = magnitude.quotientAndRemainder(dividingBy: divisorMagnitude)
        }
        // Half-even: round up past half, and at exactly half when the quotient is odd.
        let twice = remainder * 2
        if twice > divisorMagnitude || (twice == divisorMagnitude && quotientMagnitude % 2 != 0) { quotientMagnitude += 1 }
        guard quotientMagnitude <= UInt128(Int128.max) else { throw .outOfRange }
        let quotient = numerator < 0 ? -Int128(quotientMagnitude) : Int128(quotientMagnitude)
        return try Self.checked(quotient, scale: target)
    }

    public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
        if let (x, y, _) = try? aligned(a, b) { return x < y }
        // Alignment overflowed: compare integer parts, then fractions (each < 10^18 at scale 18).
        let (ai, af) = a.significand.quotientAndRemainder(dividingBy: power(a.scale))
        let (bi, bf) = b.significand.quotientAndRemainder(dividingBy: power(b.scale))
        if ai != bi { return ai < bi }
        return af * power(maxScale - a.scale) < bf * power(maxScale - b.scale)
    }
}

extension ExactDecimal {
    /// The sign of `a ÷ b − c ÷ d` (-1, 0 or 1) for positive `b` and `d`, exact whatever the
    /// sizes: the cross products are compared in as many 64-bit words as they need, never
    /// rounded (HIFO's unit costs after reverse splits need more than 36 digits).
    public static func compareRatios(_ a: ExactDecimal, _ b: ExactDecimal, _ c: ExactDecimal, _ d: ExactDecimal) -> Int {
        // a/b − c/d has the sign of a·d − c·b (b, d > 0).
        let left = a.significand.signum(), right = c.significand.signum()
        if left != right || left == 0 { return left < right ? -1 : (left > right ? 1 : 0) }
        // a·d = A·D·10^-(sa+sd), c·b = C·B·10^-(sc+sb): bring both to the finer exponent.
        var x = WideMagnitude(a.significand.magnitude).multiplied(by: WideMagnitude(d.significand.magnitude))
        var y = WideMagnitude(c.significand.magnitude).multiplied(by: WideMagnitude(b.significand.magnitude))
        let ex = a.scale + d.scale, ey = c.scale + b.scale
        if ex < ey { x = x.multiplied(byPowerOfTen: ey - ex) } else if ey < ex { y = y.multiplied(byPowerOfTen: ex - ey) }
        let order = x.compare(y)
        return left > 0 ? order : -order
    }
}

/// An unsigned integer of any size in 64-bit words (least significant first): just enough
/// arithmetic to compare products of decimals exactly.
struct WideMagnitude {
    var words: [UInt64]

    init(_ value: UInt128) {
        words = [UInt64(truncatingIfNeeded: value), UInt64(truncatingIfNeeded: value >> 64)]
    }

    init(words: [UInt64]) { self.words = words }

    func multiplied(by other: WideMagnitude) -> WideMagnitude {
        var result = [UInt64](repeating: 0, count: words.count + other.words.count)
        for (i, x) in words.enumerated() where x != 0 {
            var carry: UInt64 = 0
            for (j, y) in other.words.enumerated() {
                let (high, low) = x.multipliedFullWidth(by: y)
                let (sum1, o1) = result[i + j].addingReportingOverflow(low)
                let (sum2, o2) = sum1.addingReportingOverflow(carry)
                result[i + j] = sum2
                carry = high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            var k = i + other.words.count
            while carry != 0 {
                let (sum, overflow) = result[k].addingReportingOverflow(carry)
                result[k] = sum
                carry = overflow ? 1 : 0
                k += 1
            }
        }
        return WideMagnitude(words: result)
    }

    func multiplied(byPowerOfTen exponent: Int) -> WideMagnitude {
        var result = self
        var left = exponent
        while left > 0 {
            let step = min(left, 19)
            var factor: UInt64 = 1
            for _ in 0..<step { factor *= 10 }
            result = result.multiplied(by: WideMagnitude(words: [factor]))
            left -= step
        }
        return result
    }

    /// -1, 0 or 1 as self is below, equal to or above `other`.
    func compare(_ other: WideMagnitude) -> Int {
        let count = max(words.count, other.words.count)
        for index in stride(from: count - 1, through: 0, by: -1) {
            let x = index < words.count ? words[index] : 0
            let y = index < other.words.count ? other.words[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
}
