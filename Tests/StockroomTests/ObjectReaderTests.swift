import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct ObjectReaderTests {
    private let fields: Set<String> = ["name", "price", "stock", "quantity", "note"]

    private func reader(_ json: String) throws -> ObjectReader {
        try ObjectReader(body: Array(json.utf8), allowed: fields)
    }

    private func validationError(_ expectedField: String, sourceLocation: SourceLocation = #_sourceLocation,
                                 _ body: () throws -> Void) throws -> HTTPError {
        let error = try #require(throws: HTTPError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error.status == 422, sourceLocation: sourceLocation)
        #expect(error.code == "validation_failed", sourceLocation: sourceLocation)
        #expect(error.field == .string(expectedField), sourceLocation: sourceLocation)
        return error
    }

    // MARK: the body as a whole

    @Test func knownFieldsAreRead() throws {
        let body = try reader(#"{"name":"Widget","price":19.99,"stock":5}"#)
        #expect(body.has("name"))
        #expect(!body.has("note"))
        #expect(body.value("price") == .number("19.99"))
        #expect(body.value("note") == nil)
    }

    @Test func emptyObjectIsAccepted() throws {
        #expect(try !reader("{}").has("name"))
    }

    @Test func unknownFieldIs422WithTheField() throws {
        let error = try validationError("color") { _ = try reader(#"{"name":"x","color":"red"}"#) }
        #expect(error.message == "Unknown field 'color'.")
    }

    @Test func fieldNamesAreCaseSensitive() throws {
        _ = try validationError("Name") { _ = try reader(#"{"Name":"x"}"#) }
    }

    @Test func unknownFieldMessageIsClippedAndPlain() throws {
        let error = try validationError("a\u{01}b\nc") { _ = try reader(#"{"a\u0001b\nc":1}"#) }
        #expect(error.message == "Unknown field 'abc'.")
        let long = String(repeating: "x", count: 200)
        let clipped = try validationError(long) { _ = try reader(#"{"\#(long)":1}"#) }
        #expect(clipped.message == "Unknown field '\(String(repeating: "x", count: 64))'.")
    }

    @Test(arguments: ["", "{", "{\"name\":1,}", "nope", "{\"name\":\"a\",\"name\":\"b\"}", "[1] 2"])
    func invalidJSONIs400(_ json: String) throws {
        let error = try #require(throws: HTTPError.self) { _ = try reader(json) }
        #expect(error.status == 400)
        #expect(error.code == "invalid_json")
        #expect(error.message.hasPrefix("The request body is not valid JSON: "))
    }

    @Test func invalidUTF8Is400() throws {
        let error = try #require(throws: HTTPError.self) {
            _ = try ObjectReader(body: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D], allowed: fields)
        }
        #expect(error.status == 400)
        #expect(error.code == "invalid_json")
    }

    @Test(arguments: ["[]", "[{\"name\":\"x\"}]", "1", "\"x\"", "null", "true"])
    func nonObjectIs422(_ json: String) throws {
        let error = try #require(throws: HTTPError.self) { _ = try reader(json) }
        #expect(error.status == 422)
        #expect(error.code == "validation_failed")
        #expect(error.field == .null)
    }

    // MARK: strings

    @Test func string() throws {
        #expect(try reader(#"{"name":"Widget \"Pro\""}"#).string("name") == "Widget \"Pro\"")
        #expect(try reader(#"{"name":""}"#).string("name") == "")
    }

    @Test func missingStringIsRequired() throws {
        let error = try validationError("name") { _ = try reader("{}").string("name") }
        #expect(error.message == "'name' is required.")
    }

    @Test(arguments: [("1", "number"), ("null", "null"), ("true", "boolean"), ("[]", "array"), ("{}", "object")])
    func stringOfTheWrongType(_ json: String, _ typeName: String) throws {
        let error = try validationError("name") { _ = try reader(#"{"name":\#(json)}"#).string("name") }
        #expect(error.message == "'name' must be a string, not \(typeName).")
    }

    // MARK: integers

    @Test(arguments: [("5", Int64(5)), ("5.0", 5), ("5e0", 5), ("50e-1", 5), ("0.5e1", 5), ("0", 0), ("-0", 0),
                      ("100", 100), ("1E2", 100), ("100.000", 100)])
    func integer(_ literal: String, _ expected: Int64) throws {
        #expect(try reader(#"{"stock":\#(literal)}"#).integer("stock", in: 0...100) == expected)
    }

    @Test(arguments: ["5.5", "0.1", "1e-1", "99.99"])
    func fractionIsNotAWholeNumber(_ literal: String) throws {
        let error = try validationError("stock") { _ = try reader(#"{"stock":\#(literal)}"#).integer("stock", in: 0...100) }
        #expect(error.message == "'stock' must be a whole number.")
    }

    @Test(arguments: ["-1", "101", "1e400", "-1e400", "99999999999999999999", "1e3"])
    func integerOutOfRange(_ literal: String) throws {
        let error = try validationError("stock") { _ = try reader(#"{"stock":\#(literal)}"#).integer("stock", in: 0...100) }
        #expect(error.message == "'stock' must be between 0 and 100.")
    }

    @Test func integerRangeBoundsAreInclusive() throws {
        #expect(try reader(#"{"quantity":1}"#).integer("quantity", in: 1...1_000_000) == 1)
        #expect(try reader(#"{"quantity":1000000}"#).integer("quantity", in: 1...1_000_000) == 1_000_000)
        _ = try validationError("quantity") { _ = try reader(#"{"quantity":0}"#).integer("quantity", in: 1...1_000_000) }
        _ = try validationError("quantity") { _ = try reader(#"{"quantity":1000001}"#).integer("quantity", in: 1...1_000_000) }
    }

    @Test(arguments: [(#""5""#, "string"), ("null", "null"), ("false", "boolean"), ("[5]", "array"), ("{}", "object")])
    func integerOfTheWrongType(_ json: String, _ typeName: String) throws {
        let error = try validationError("stock") { _ = try reader(#"{"stock":\#(json)}"#).integer("stock", in: 0...100) }
        #expect(error.message == "'stock' must be a number, not \(typeName).")
    }

    @Test func missingIntegerIsRequired() throws {
        let error = try validationError("stock") { _ = try reader("{}").integer("stock", in: 0...100) }
        #expect(error.message == "'stock' is required.")
    }

    // MARK: money

    @Test(arguments: [("0.1", Int64(10)), ("19.99", 1999), ("0", 0), ("0.00", 0), ("-0", 0), ("7", 700),
                      ("99999999.99", 9_999_999_999), ("1.230", 123), ("1.5e1", 1500), ("1e-2", 1), ("0.000", 0),
                      ("0e-7", 0)])
    func money(_ literal: String, _ cents: Int64) throws {
        #expect(try reader(#"{"price":\#(literal)}"#).money("price") == Money(cents: cents))
    }

    @Test(arguments: ["100000000.00", "100000000", "-1", "-0.01", "1e400", "99999999.991e1"])
    func moneyOutOfRange(_ literal: String) throws {
        let error = try validationError("price") { _ = try reader(#"{"price":\#(literal)}"#).money("price") }
        #expect(error.message == "'price' must be between 0.00 and 99999999.99.")
    }

    @Test(arguments: ["0.001", "19.999", "1e-3", "0.105"])
    func moneyWithMoreThanTwoDecimals(_ literal: String) throws {
        let error = try validationError("price") { _ = try reader(#"{"price":\#(literal)}"#).money("price") }
        #expect(error.message == "'price' must have at most two decimals.")
    }

    @Test(arguments: [(#""19.99""#, "string"), ("null", "null"), ("true", "boolean"), ("[1]", "array"), ("{}", "object")])
    func moneyOfTheWrongType(_ json: String, _ typeName: String) throws {
        let error = try validationError("price") { _ = try reader(#"{"price":\#(json)}"#).money("price") }
        #expect(error.message == "'price' must be a number, not \(typeName).")
    }

    @Test func missingMoneyIsRequired() throws {
        let error = try validationError("price") { _ = try reader(#"{"name":"x"}"#).money("price") }
        #expect(error.message == "'price' is required.")
    }

    // MARK: nested objects

    private func line(_ json: String, index: Int = 2) throws -> ObjectReader {
        guard case .object(let members) = try parseJSON(json) else { throw HTTPError.notFound }
        return try ObjectReader(members: members, prefix: "items[\(index)].", allowed: ["product_id", "quantity"])
    }

    @Test func nestedObjectReadsItsFields() throws {
        let item = try line(#"{"product_id":3,"quantity":2.0}"#)
        #expect(try item.integer("product_id", in: 1...Int64.max) == 3)
        #expect(try item.integer("quantity", in: 1...1000) == 2)
        #expect(item.has("quantity"))
    }

    @Test func nestedErrorsNameTheFullPath() throws {
        let unknown = try validationError("items[2].price") { _ = try line(#"{"product_id":3,"price":1}"#) }
        #expect(unknown.message == "Unknown field 'items[2].price'.")
        let missing = try validationError("items[0].quantity") { _ = try line(#"{"product_id":3}"#, index: 0).integer("quantity", in: 1...1000) }
        #expect(missing.message == "'items[0].quantity' is required.")
        let range = try validationError("items[1].quantity") { _ = try line(#"{"quantity":0}"#, index: 1).integer("quantity", in: 1...1000) }
        #expect(range.message == "'items[1].quantity' must be between 1 and 1000.")
        let type = try validationError("items[2].product_id") { _ = try line(#"{"product_id":"3"}"#).integer("product_id", in: 1...Int64.max) }
        #expect(type.message == "'items[2].product_id' must be a number, not string.")
        let string = try validationError("items[2].quantity") { _ = try line(#"{"quantity":1}"#).string("quantity") }
        #expect(string.message == "'items[2].quantity' must be a string, not number.")
        let money = try validationError("items[3].quantity") { _ = try line(#"{"quantity":0.001}"#, index: 3).money("quantity") }
        #expect(money.message == "'items[3].quantity' must have at most two decimals.")
    }
}
