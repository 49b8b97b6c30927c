import Testing
@testable import StockroomCore

/// The Pricing rule (contract, Pricing): exact cents, half up.
@Suite struct PricingTests {
    let store = PricingPolicy(taxRateBasisPoints: 1300, deliveryFee: Money(cents: 500), freeDeliveryFrom: Money(cents: 10_000))

    func price(_ subtotal: Int64, _ discount: PromoCode.Discount? = nil, policy: PricingPolicy? = nil) -> Pricing {
        Pricing.price(subtotal: Money(cents: subtotal), hasLines: true, discount: discount, policy: policy ?? store)
    }

    @Test func theContractsExample() {
        // Two units at 19.99 with a 10% code: 39.98, 4.00, 5.00, 5.33, 46.31.
        let pricing = price(3998, .percent(basisPoints: 1000))
        #expect(pricing == Pricing(subtotal: Money(cents: 3998), discount: Money(cents: 400), delivery: Money(cents: 500),
                                   tax: Money(cents: 533), total: Money(cents: 4631)))
    }

    @Test func halfUpRounding() {
        // 12.5% of 0.20 is 0.025: 0.03. Tax of 13% on 0.50 + 5.00 = 0.715: 0.72.
        #expect(price(20, .percent(basisPoints: 1250)).discount.cents == 3)
        #expect(price(50).tax.cents == 72)
    }

    @Test func freeDeliveryFromTheThresholdExactly() {
        #expect(price(10_000).delivery.cents == 0)
        #expect(price(9_999).delivery.cents == 500)
        // The threshold counts after the discount.
        #expect(price(10_500, .amount(Money(cents: 600))).delivery.cents == 500)
    }

    @Test func anAmountAboveTheSubtotalDiscountsTheSubtotal() {
        let pricing = price(1_000, .amount(Money(cents: 5_000)))
        #expect(pricing.discount.cents == 1_000)
        #expect(pricing.delivery.cents == 500)
        #expect(pricing.tax.cents == 65)
        #expect(pricing.total.cents == 565)
    }

    @Test func zeroAndHundredPercent() {
        let noTax = PricingPolicy()
        #expect(price(3998, policy: noTax) == Pricing(subtotal: Money(cents: 3998), discount: .zero, delivery: .zero,
                                                      tax: .zero, total: Money(cents: 3998)))
        let free = price(3998, .percent(basisPoints: 10_000))
        #expect(free.discount.cents == 3998 && free.delivery.cents == 500 && free.total.cents == 565)
        let allTax = price(10_000, policy: PricingPolicy(taxRateBasisPoints: 10_000))
        #expect(allTax.tax.cents == 10_000 && allTax.total.cents == 20_000)
    }

    @Test func anEmptyCartCostsNothing() {
        #expect(Pricing.price(subtotal: .zero, hasLines: false, discount: .percent(basisPoints: 1000), policy: store) == .zero)
    }

    @Test func theLargestAmountsDoNotOverflow() {
        // 50 lines of 1000 units at 99999999.99, taxed at 100%.
        let subtotal: Int64 = 50 * 1000 * 9_999_999_999
        let pricing = price(subtotal, .percent(basisPoints: 1), policy: PricingPolicy(taxRateBasisPoints: 10_000))
        #expect(pricing.total.cents == 2 * (subtotal - pricing.discount.cents))
    }
}

@Suite struct TimestampRFC3339Tests {
    @Test func parsesZuluAndOffsets() {
        #expect(Timestamp(rfc3339: "2026-01-09T14:06:33Z")?.rfc3339 == "2026-01-09T14:06:33Z")
        #expect(Timestamp(rfc3339: "2026-01-09T16:06:33.5+02:00")?.rfc3339 == "2026-01-09T14:06:33Z")
        #expect(Timestamp(rfc3339: "2026-01-09t14:06:33z")?.rfc3339 == "2026-01-09T14:06:33Z")
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-09 14:06:33Z", "2026-01-09T14:06:33",
                      "0999-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "2026-01-09T24:00:00Z", "", "tomorrow"])
    func refusesWhatIsNotADatetime(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }
}
