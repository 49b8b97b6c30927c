/// The store's prices for a set of lines: one rule for carts, checkout and direct orders, in exact
/// cents, every rounding half up to the cent (contract, Pricing).
public struct Pricing: Sendable, Equatable {
    public var subtotal: Money
    public var discount: Money
    public var delivery: Money
    public var tax: Money
    public var total: Money

    public init(subtotal: Money, discount: Money, delivery: Money, tax: Money, total: Money) {
        self.subtotal = subtotal
        self.discount = discount
        self.delivery = delivery
        self.tax = tax
        self.total = total
    }

    /// What nothing costs: an empty cart.
    public static let zero = Pricing(subtotal: .zero, discount: .zero, delivery: .zero, tax: .zero, total: .zero)

    /// Prices lines whose line totals sum to `subtotal`, with `discount` when a code applies.
    /// `hasLines` false (an empty cart) costs nothing, not even delivery.
    public static func price(subtotal: Money, hasLines: Bool, discount rule: PromoCode.Discount?, policy: PricingPolicy) -> Pricing {
        guard hasLines else { return .zero }
        let discount: Int64
        switch rule {
        case nil: discount = 0
        case .percent(let basisPoints)?: discount = halfUp(subtotal.cents * basisPoints, dividedBy: 10_000)
        case .amount(let amount)?: discount = min(amount.cents, subtotal.cents)
        }
        let discounted = subtotal.cents - discount
        let delivery: Int64
        if let threshold = policy.freeDeliveryFrom, discounted >= threshold.cents {
            delivery = 0
        } else {
            delivery = policy.deliveryFee.cents
        }
        let taxed = discounted + delivery
        let tax = halfUp(taxed * policy.taxRateBasisPoints, dividedBy: 10_000)
        return Pricing(subtotal: subtotal, discount: Money(cents: discount), delivery: Money(cents: delivery),
                       tax: Money(cents: tax), total: Money(cents: taxed + tax))
    }

    /// `value / divisor` rounded half up, for value ≥ 0. No overflow for the amounts here: cents
    /// below 10^12 times basis points up to 10^4.
    static func halfUp(_ value: Int64, dividedBy divisor: Int64) -> Int64 {
        (value + divisor / 2) / divisor
    }
}

/// The operator's store settings (STOCKROOM_TAX_RATE, STOCKROOM_DELIVERY_FEE,
/// STOCKROOM_FREE_DELIVERY_FROM).
public struct PricingPolicy: Sendable, Equatable {
    /// The tax rate in hundredths of a percent: 13.00% is 1300.
    public var taxRateBasisPoints: Int64
    public var deliveryFee: Money
    /// Orders whose subtotal less discount reaches this pay no delivery; nil: never free.
    public var freeDeliveryFrom: Money?

    public init(taxRateBasisPoints: Int64 = 0, deliveryFee: Money = .zero, freeDeliveryFrom: Money? = nil) {
        self.taxRateBasisPoints = taxRateBasisPoints
        self.deliveryFee = deliveryFee
        self.freeDeliveryFrom = freeDeliveryFrom
    }

    /// 13.00% as `13.00`.
    public var taxRateText: String { Money(cents: taxRateBasisPoints).description }
}
