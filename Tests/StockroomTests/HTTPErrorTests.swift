import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct HTTPErrorTests {
    @Test func bodyIsExactlyTheContractShape() {
        let response = HTTPError.notFound.response
        #expect(response.status == 404)
        #expect(text(response.body) == #"{"error":{"code":"not_found","message":"No such resource."}}"#)
        #expect(response.headers.count == 1)
        #expect(response.headers.first?.name == "Content-Type")
        #expect(response.headers.first?.value == "application/json")
    }

    @Test func extraKeysFollowCodeAndMessage() {
        let error = HTTPError(409, "insufficient_stock", "Not enough stock.",
                              extra: [("product_id", .number("3")), ("available", .number("1"))])
        #expect(text(error.response.body)
            == #"{"error":{"code":"insufficient_stock","message":"Not enough stock.","product_id":3,"available":1}}"#)
    }

    @Test func validationCarriesTheField() {
        let response = HTTPError.validation("price", "'price' is required.").response
        #expect(response.status == 422)
        #expect(text(response.body) == #"{"error":{"code":"validation_failed","message":"'price' is required.","field":"price"}}"#)
    }

    @Test func messagesAreEscaped() throws {
        let response = HTTPError(400, "bad", "a \"quoted\" \\ word\n\u{01}").response
        let parsed = try JSONParser.parse(response.body)
        #expect(parsed == .object([("error", .object([("code", .string("bad")), ("message", .string("a \"quoted\" \\ word\n\u{01}"))]))]))
    }

    @Test func unauthorizedAsksForABearerToken() {
        let response = HTTPError.unauthorized.response
        #expect(response.status == 401)
        #expect(response.header("WWW-Authenticate") == "Bearer")
        #expect(response.header("Content-Type") == "application/json")
        #expect(text(response.body) == #"{"error":{"code":"unauthorized","message":"A valid bearer token is required."}}"#)
    }

    @Test func methodNotAllowedListsTheAllowedMethods() {
        let response = HTTPError.methodNotAllowed(allowed: ["GET", "PUT", "DELETE"]).response
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, PUT, DELETE")
        #expect(response.header("Content-Type") == "application/json")
        #expect(text(response.body).hasPrefix(#"{"error":{"code":"method_not_allowed","message":"#))
    }

    @Test func otherHeadersOnlyWhereTheyBelong() {
        #expect(HTTPError.notFound.response.header("WWW-Authenticate") == nil)
        #expect(HTTPError.forbidden.response.header("WWW-Authenticate") == nil)
        #expect(HTTPError.notFound.response.header("Allow") == nil)
        #expect(HTTPError.databaseUnavailable.response.header("Retry-After") == "2")
    }

    @Test func invalidJSONKeepsTheDetail() {
        let error = HTTPError.invalidJSON("unexpected end of input")
        #expect(error.status == 400)
        #expect(error.code == "invalid_json")
        #expect(error.message == "The request body is not valid JSON: unexpected end of input.")
    }

    @Test(arguments: [
        (HTTPError.notFound, 404, "not_found"), (.unauthorized, 401, "unauthorized"), (.forbidden, 403, "forbidden"),
        (.payloadTooLarge, 413, "payload_too_large"), (.unsupportedMediaType, 415, "unsupported_media_type"),
        (.databaseUnavailable, 503, "database_unavailable"), (.internalError, 500, "internal_error"),
    ])
    func sharedErrors(_ error: HTTPError, _ status: Int, _ code: String) throws {
        let response = error.response
        #expect(response.status == status)
        let parsed = try JSONParser.parse(response.body)
        guard case .object(let top) = parsed, top.count == 1, top[0].key == "error",
              case .object(let inner) = top[0].value else {
            Issue.record("not the contract's shape: \(text(response.body))")
            return
        }
        #expect(inner.map(\.key) == ["code", "message"])
        #expect(inner.first?.value == .string(code))
        #expect(response.header("Content-Type") == "application/json")
    }

    @Test func noContentIsEmpty() {
        let response = Response.noContent()
        #expect(response.status == 204)
        #expect(response.body.isEmpty)
    }
}

/// Every refusal of the store gets the contract's status and code, in one place (ErrorMapping).
@Suite struct StoreErrorMappingTests {
    @Test(arguments: [
        (StoreError.productNotFound, 404, "product_not_found"),
        (.orderedProductNotFound(id: 7), 404, "product_not_found"),
        (.insufficientStock(productID: 7, available: 2), 409, "insufficient_stock"),
        (.restockAboveMaximum(quantity: 5), 422, "validation_failed"),
        (.amountTooLarge(lineTotal: true), 422, "validation_failed"),
        (.amountTooLarge(lineTotal: false), 422, "validation_failed"),
        (.orderNotFound, 404, "order_not_found"),
        (.orderAlreadyCancelled, 409, "order_not_cancellable"),
        (.cancelAboveMaximumStock, 409, "order_not_cancellable"),
        (.usernameTaken, 400, "username_taken"),
        (.sessionInvalid, 401, "unauthorized"),
        (.idempotencyKeyReused, 422, "idempotency_key_reused"),
    ])
    func mapsToTheContract(error: StoreError, status: Int, code: String) throws {
        let mapped = ErrorMapping.httpError(for: error)
        #expect(mapped.status == status)
        #expect(mapped.code == code)
    }

    @Test func fieldsTheContractNames() {
        let shortage = ErrorMapping.httpError(for: .insufficientStock(productID: 7, available: 2))
        #expect(text(shortage.response.body).contains(#""product_id":7,"available":2"#))
        let missing = ErrorMapping.httpError(for: .orderedProductNotFound(id: 9))
        #expect(text(missing.response.body).contains(#""product_id":9"#))
        #expect(text(ErrorMapping.httpError(for: .restockAboveMaximum(quantity: 5)).response.body).contains(#""field":"quantity""#))
        #expect(text(ErrorMapping.httpError(for: .usernameTaken).response.body).contains(#""field":"username""#))
        #expect(ErrorMapping.httpError(for: .sessionInvalid).response.header("WWW-Authenticate") == "Bearer")
    }
}
