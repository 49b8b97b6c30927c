/// An amount of money in integer cents: exact, as DECIMAL(12,2) is in the database.
public struct Money: Equatable, Comparable, Sendable, CustomStringConvertible {
    public var cents: Int64

    public init(cents: Int64) { self.cents = cents }

    public static let maximum = Money(cents: 99_999_999_99)
    public static let zero = Money(cents: 0)

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.cents < rhs.cents }

    /// `19.99`, `0.10`: what DECIMAL(12,2) columns and JSON responses carry.
    public var description: String {
        let sign = cents < 0 ? "-" : ""
        let magnitude = cents.magnitude
        let fraction = magnitude % 100
        return "\(sign)\(magnitude / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// Parses a DECIMAL column's text (`19.99`, `-3.5`, `7`).
    public init?(decimalText text: String) {
        guard let number = ExactDecimal(literal: text), let cents = number.scaled(toDecimals: 2) else { return nil }
        self.cents = cents
    }

    public func multiplied(by quantity: Int64) -> Money? {
        let (product, overflow) = cents.multipliedReportingOverflow(by: quantity)
        return overflow ? nil : Money(cents: product)
    }
}
