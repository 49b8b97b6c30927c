/// A user's cart as the store prices it now: the products' current names and prices, the code
/// it holds and whether that code applies.
public struct Cart: Sendable, Equatable {
    public typealias Line = PricedLine

    public var lines: [Line]
    /// The code's text as the admin wrote it.
    public var promoCode: String?
    public var promoCodeApplies: Bool
    public var pricing: Pricing
    /// The last write; nil for a cart never written.
    public var updatedAt: Timestamp?

    public static let maximumLines = 50
    public static let quantityRange: ClosedRange<Int64> = 1...1000
}
