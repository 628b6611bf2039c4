/// The documented ranges of the contract (common.proto says the same to clients).
///
/// Every quantity, price and amount a request gives or the service computes stays within
/// ±10^15 with at most 18 fractional digits: the exact decimals then never leave the range
/// of ``ExactDecimal`` however they are added, multiplied or summed over a portfolio of up
/// to 1,000 such positions. A command whose result (a lot's basis, a position's running
/// totals, its realized gain, its market value) would leave the range is refused before
/// anything is produced; nothing is ever rounded away or dropped to make it fit.
public enum Limits {
    /// 10^15: the largest magnitude of any quantity, price or amount.
    public static let maximum = ExactDecimal(1_000_000_000_000_000)
    /// Fractional digits a request may give for a quantity, a price or fees.
    public static let inputScale = 10
    /// 1900-01-01T00:00:00Z: no trade, price or corporate action is dated earlier.
    public static let earliest = Instant(microseconds: -2_208_988_800 * 1_000_000)

    /// Whether `value` is within ±10^15.
    public static func contains(_ value: ExactDecimal) -> Bool {
        value.magnitudeIsAtMost(powerOfTen: 15)
    }

    /// FAILED_PRECONDITION naming what would leave the range, for results of a command.
    static func check(_ value: ExactDecimal, _ what: @autoclosure () -> String) throws(DomainError) {
        guard contains(value) else {
            throw .failedPrecondition("\(what()) would be \(value), beyond the documented range of ±10^15")
        }
    }
}

extension ExactDecimal {
    /// Self, or FAILED_PRECONDITION naming `what` when beyond ±10^15.
    public func checkedAmount(_ what: @autoclosure () -> String) throws(DomainError) -> ExactDecimal {
        try Limits.check(self, what())
        return self
    }
}
