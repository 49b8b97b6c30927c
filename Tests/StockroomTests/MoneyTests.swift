import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct MoneyTests {
    @Test(arguments: [
        (Int64(0), "0.00"), (10, "0.10"), (1999, "19.99"), (9_999_999_999, "99999999.99"),
        (1, "0.01"), (100, "1.00"), (5997, "59.97"), (-5, "-0.05"), (-350, "-3.50"),
        (Int64.min, "-92233720368547758.08"), (Int64.max, "92233720368547758.07"),
    ])
    func description(_ cents: Int64, _ expected: String) {
        #expect(Money(cents: cents).description == expected)
    }

    @Test func maximumIsTheLargestDecimal12_2() {
        #expect(Money.maximum.cents == 9_999_999_999)
        #expect(Money.maximum.description == "99999999.99")
    }

    @Test(arguments: [
        ("19.99", Int64(1999)), ("0.10", 10), ("7", 700), ("-3.5", -350), ("0.00", 0), ("0", 0),
        ("99999999.99", 9_999_999_999), ("-0.01", -1), ("1.990", 199), ("1e2", 10000),
    ])
    func decimalText(_ text: String, _ cents: Int64) {
        #expect(Money(decimalText: text)?.cents == cents)
    }

    @Test(arguments: ["", "abc", "1.999", "0.001", "1.2.3", "1,00", "$5", " 5", "5 ", "1e", "--1", "-", "."])
    func invalidDecimalText(_ text: String) {
        #expect(Money(decimalText: text) == nil)
    }

    @Test func descriptionRoundTripsThroughDecimalText() {
        for cents: Int64 in [0, 1, 9, 10, 99, 100, 101, 1999, 123_456, -1, -99, -100, -12_345, Money.maximum.cents] {
            #expect(Money(decimalText: Money(cents: cents).description)?.cents == cents)
        }
    }

    @Test func multiplicationIsExact() {
        #expect(Money(cents: 1999).multiplied(by: 3) == Money(cents: 5997))
        #expect(Money(cents: 10).multiplied(by: 3) == Money(cents: 30))
        #expect(Money(cents: 10).multiplied(by: 3)?.description == "0.30")
        #expect(Money(cents: 1999).multiplied(by: 0) == Money(cents: 0))
        #expect(Money.maximum.multiplied(by: 1_000_000)?.cents == 9_999_999_999_000_000)
    }

    @Test func multiplicationOverflowIsNil() {
        #expect(Money(cents: .max).multiplied(by: 2) == nil)
        #expect(Money(cents: .min).multiplied(by: -1) == nil)
        #expect(Money(cents: 4_611_686_018_427_387_904).multiplied(by: 2) == nil)
        #expect(Money(cents: 4_611_686_018_427_387_903).multiplied(by: 2)?.cents == 9_223_372_036_854_775_806)
    }

    @Test func ordering() {
        #expect(Money(cents: 1) < Money(cents: 2))
        #expect(Money(cents: -1) < Money(cents: 0))
        #expect(!(Money.maximum < Money(cents: 9_999_999_998)))
    }

    // MARK: ExactDecimal

    @Test(arguments: [
        ("1.999", 2, nil), ("1.990", 2, 199), ("1e2", 2, 10000), ("1E-2", 2, 1), ("0.001", 2, nil),
        ("1e999999999", 2, nil), ("0e5", 2, 0), ("0e999999999", 2, 0), ("1e-999999999", 2, nil),
        ("19.99", 2, 1999), ("-3.5", 2, -350), ("-0", 2, 0), ("0.0", 0, 0), ("5.0", 0, 5), ("5.5", 0, nil),
        ("50e-1", 0, 5), ("0.5e1", 0, 5), ("1.5e+1", 2, 1500), ("007", 0, 7), ("1.2345", 4, 12345),
        ("999999999999999999", 0, 999_999_999_999_999_999), ("9223372036854775808", 0, nil),
        ("9223372036854775807", 0, Int64.max), ("-9223372036854775808", 0, Int64.min), ("922337203685477580.7", 1, Int64.max),
        ("9223372036854775807", 1, nil), ("1e18", 0, 1_000_000_000_000_000_000), ("1e19", 0, nil),
        ("99999999999999999999", 0, nil), ("1e400", 0, nil), ("-1e400", 0, nil),
    ] as [(String, Int, Int64?)])
    func scaledToDecimals(_ literal: String, _ decimals: Int, _ expected: Int64?) throws {
        let number = try #require(ExactDecimal(literal: literal))
        #expect(number.scaled(toDecimals: decimals) == expected)
    }

    @Test(arguments: ["", "-", ".", "e5", "1.2.3", "abc", "1e", "1e+", "1ee2", "1e2.5", " 1", "1 ", "+1", "--1", "1e-+2", "0x1"])
    func invalidLiterals(_ literal: String) {
        #expect(ExactDecimal(literal: literal) == nil)
    }

    @Test func zeroIsNormalised() throws {
        let zero = try #require(ExactDecimal(literal: "-000.000e7"))
        #expect(zero.isZero)
        #expect(zero.exponent == 0)
        #expect(try #require(ExactDecimal(literal: "0.01")).isZero == false)
    }

    @Test func leadingAndTrailingZerosAreStripped() throws {
        let number = try #require(ExactDecimal(literal: "00120.0500"))
        #expect(number.digits == [1, 2, 0, 0, 5])
        #expect(number.exponent == -2)
        #expect(number.negative == false)
    }
}
