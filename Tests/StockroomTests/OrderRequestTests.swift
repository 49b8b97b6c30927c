import MariaDB
import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct OrderRequestTests {
    private func request(_ json: String) throws -> OrderRequest {
        try OrderRequest(body: ObjectReader(body: Array(json.utf8), allowed: ["items", "product_id", "quantity", "promo_code"]))
    }

    @Test(arguments: ["9223372036854775807", "1"])
    func largestIDsAreIDs(_ id: String) throws {
        let order = try request(#"{"product_id": \#(id), "quantity": 2}"#)
        #expect(order.lines == [OrderRequest.Line(productID: Int64(id)!, quantity: 2)])
    }

    @Test(arguments: ["9223372036854775808", "18446744073709551616", "1e30", "99999999999999999999999"])
    func idsBeyondInt64AreNotFound(_ id: String) throws {
        for body in [#"{"product_id": \#(id), "quantity": 1}"#, #"{"items": [{"product_id": 3, "quantity": 1}, {"product_id": \#(id), "quantity": 1}]}"#] {
            let error = try #require(throws: HTTPError.self) { _ = try request(body) }
            #expect(error.status == 404)
            #expect(error.code == "product_not_found")
            #expect(error.extra.first { $0.key == "product_id" }?.value == .number(id))
        }
    }

    @Test func validationComesBeforeNotFound() throws {
        let error = try #require(throws: HTTPError.self) {
            _ = try request(#"{"items": [{"product_id": 1e30, "quantity": 1}, {"product_id": 2, "quantity": 0}]}"#)
        }
        #expect(error.status == 422)
        #expect(error.field == .string("items[1].quantity"))
    }

    @Test(arguments: ["0", "-1", "-9223372036854775809", "1.5", "-1e30", "\"7\""])
    func nonIDsAre422(_ id: String) throws {
        let error = try #require(throws: HTTPError.self) { _ = try request(#"{"product_id": \#(id), "quantity": 1}"#) }
        #expect(error.status == 422)
        #expect(error.field == .string("product_id"))
    }

    @Test func paddingRepeatsTheLastValueUpToAPowerOfTwo() {
        #expect(StatementShape.padded([Int64]()) == [])
        #expect(StatementShape.padded([5]) == [5])
        #expect(StatementShape.padded([1, 2, 3]) == [1, 2, 3, 3])
        #expect(StatementShape.padded(Array(1...50)).count == 64)
        // Orders of 1 to 50 lines make 7 statement shapes, not 50.
        #expect(Set((1...50).map { StatementShape.padded(Array(repeating: 0, count: $0)).count }).count == 7)
    }
}
