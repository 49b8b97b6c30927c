import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct PageRequestTests {
    private func page(_ query: String) throws -> PageRequest {
        try PageRequest(Request(method: "GET", path: "/api/v1/products", query: query))
    }

    @Test func defaults() throws {
        let request = try page("")
        #expect(request.limit == 20)
        #expect(request.after == 0)
    }

    @Test func explicitValues() throws {
        let request = try page("limit=100&after=42")
        #expect(request.limit == 100)
        #expect(request.after == 42)
        #expect(try page("limit=1").limit == 1)
        #expect(try page("after=0").after == 0)
        #expect(try page("limit=%35%30").limit == 50)
    }

    @Test(arguments: ["0", "101", "-1", "+5", "abc", "", "1.0", "5%20", "99999999999999999999", "%zz", "1%", "%31%"])
    func badLimitIs422(_ raw: String) throws {
        let error = try #require(throws: HTTPError.self) { _ = try page("limit=\(raw)") }
        #expect(error.status == 422)
        #expect(error.field == .string("limit"))
    }

    @Test(arguments: ["-1", "+1", "x", "", "1e3", "%G1"])
    func badAfterIs422(_ raw: String) throws {
        let error = try #require(throws: HTTPError.self) { _ = try page("after=\(raw)") }
        #expect(error.status == 422)
        #expect(error.field == .string("after"))
    }

    @Test(arguments: ["9223372036854775807", "9223372036854775808", "99999999999999999999999"])
    func afterBeyondInt64IsTheLastID(_ raw: String) throws {
        #expect(try page("after=\(raw)").after == Int64.max)
    }

    @Test func lastPageHasNullNextAfter() throws {
        let request = try page("limit=2")
        let body = request.body([.number("1"), .number("2")], ids: [1, 2])
        #expect(body == .object([("items", .array([.number("1"), .number("2")])), ("next_after", .null)]))
    }

    @Test func fullPageLinksToItsLastItem() throws {
        let request = try page("limit=2")
        let body = request.body([.number("10"), .number("20"), .number("30")], ids: [10, 20, 30])
        #expect(body == .object([("items", .array([.number("10"), .number("20")])), ("next_after", .number("20"))]))
    }
}
