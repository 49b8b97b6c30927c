/// A product, a quantity and its price: a line of an order (as sold) or of a cart (as priced now).
public struct PricedLine: Sendable, Equatable {
    public let productID: Int64
    public let name: String
    public let quantity: Int64
    public let unitPrice: Money
    public let lineTotal: Money
}

/// An order. Lines carry the name and unit price as sold.
public struct Order: Sendable, Equatable {
    public enum Status: String, Sendable { case pending, processed, cancelled }

    public typealias Line = PricedLine

    public let id: Int64
    public let userID: Int64
    public var status: Status
    public var lines: [Line]
    /// Priced when the order was placed (the Pricing rule); `pricing.total` is what the buyer pays.
    public var pricing: Pricing
    /// The code's text as the admin wrote it, or nil.
    public var promoCode: String?
    public let createdAt: Timestamp
    public var updatedAt: Timestamp

    /// The sum of the line totals: the order's subtotal.
    static func subtotal(of lines: [Line]) -> Money { Money(cents: lines.reduce(0) { $0 + $1.lineTotal.cents }) }

    /// The largest amount a DECIMAL(12,2) column holds.
    public static let maximumAmount = Money(cents: 999_999_999_999)
}
