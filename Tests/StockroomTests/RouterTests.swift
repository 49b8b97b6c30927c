import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct RouterTests {
    private let router: Router = {
        var router = Router()
        let ok: Router.Handler = { _, _ in Response(status: 200) }
        router.add("GET", "/", ok)
        router.add("GET", "/health", ok)
        router.add("GET", "/api/v1/products", ok)
        router.add("POST", "/api/v1/products", ok)
        router.add("GET", "/api/v1/products/{id}", ok)
        router.add("PUT", "/api/v1/products/{id}", ok)
        router.add("DELETE", "/api/v1/products/{id}", ok)
        router.add("POST", "/api/v1/products/{id}/restock", ok)
        router.add("GET", "/api/v1/orders/{id}/items/{id}", ok)
        return router
    }()

    private enum Outcome: Equatable {
        case found(name: String, method: String, ids: [Int64])
        case methodNotAllowed(allowed: [String], name: String)
        case notFound
    }

    private func match(_ method: String, _ path: String) -> Outcome {
        Self.outcome(router.match(method: method, path: path))
    }

    private static func outcome(_ match: Router.Match) -> Outcome {
        switch match {
        case .found(let route, let ids): return .found(name: route.name, method: route.method, ids: ids)
        case .methodNotAllowed(let allowed, let name): return .methodNotAllowed(allowed: allowed, name: name)
        case .notFound: return .notFound
        }
    }

    @Test func literalRoutes() {
        #expect(match("GET", "/health") == .found(name: "/health", method: "GET", ids: []))
        #expect(match("GET", "/api/v1/products") == .found(name: "/api/v1/products", method: "GET", ids: []))
        #expect(match("POST", "/api/v1/products") == .found(name: "/api/v1/products", method: "POST", ids: []))
    }

    @Test func routesWithIDs() {
        #expect(match("GET", "/api/v1/products/42") == .found(name: "/api/v1/products/{id}", method: "GET", ids: [42]))
        #expect(match("DELETE", "/api/v1/products/1") == .found(name: "/api/v1/products/{id}", method: "DELETE", ids: [1]))
        #expect(match("POST", "/api/v1/products/7/restock")
            == .found(name: "/api/v1/products/{id}/restock", method: "POST", ids: [7]))
        #expect(match("GET", "/api/v1/orders/3/items/9")
            == .found(name: "/api/v1/orders/{id}/items/{id}", method: "GET", ids: [3, 9]))
    }

    @Test func rootPath() {
        #expect(match("GET", "/") == .found(name: "/", method: "GET", ids: []))
        #expect(match("POST", "/") == .methodNotAllowed(allowed: ["GET", "HEAD"], name: "/"))
        var empty = Router()
        empty.add("GET", "/health") { _, _ in Response(status: 200) }
        #expect(Self.outcome(empty.match(method: "GET", path: "/")) == .notFound)
    }

    @Test func wrongMethodIs405WithTheAllowedMethodsInOrder() {
        #expect(match("PATCH", "/api/v1/products/5")
            == .methodNotAllowed(allowed: ["GET", "HEAD", "PUT", "DELETE"], name: "/api/v1/products/{id}"))
        #expect(match("DELETE", "/api/v1/products")
            == .methodNotAllowed(allowed: ["GET", "HEAD", "POST"], name: "/api/v1/products"))
        #expect(match("GET", "/api/v1/products/5/restock")
            == .methodNotAllowed(allowed: ["POST"], name: "/api/v1/products/{id}/restock"))
        #expect(match("get", "/health") == .methodNotAllowed(allowed: ["GET", "HEAD"], name: "/health"))
    }

    @Test func headIsServedByTheGETRoute() {
        #expect(match("HEAD", "/health") == .found(name: "/health", method: "GET", ids: []))
        #expect(match("HEAD", "/api/v1/products/8") == .found(name: "/api/v1/products/{id}", method: "GET", ids: [8]))
        #expect(match("HEAD", "/api/v1/products/8/restock")
            == .methodNotAllowed(allowed: ["POST"], name: "/api/v1/products/{id}/restock"))
        #expect(match("HEAD", "/api/v1/products/0") == .notFound)
    }

    @Test func aBadIDIsNotFoundEvenWithTheWrongMethod() {
        #expect(match("PATCH", "/api/v1/products/abc") == .notFound)
    }

    @Test(arguments: ["/nope", "/api", "/api/v1", "/api/v2/products", "/API/v1/products", "/api/v1/products/1/restock/2",
                      "/api/v1/products/1/unknown", "/health/live/x", "", "health", "api/v1/products", "/api//products",
                      "//", "//health", "/api/v1/orders/1/items"])
    func unknownPathsAreNotFound(_ path: String) {
        #expect(match("GET", path) == .notFound)
    }

    @Test(arguments: ["/health/", "/api/v1/products/", "/api/v1/products/1/", "/api/v1/products/1/restock/"])
    func trailingSlashIsNotFound(_ path: String) {
        #expect(match("GET", path) == .notFound)
        #expect(match("POST", path) == .notFound)
    }

    @Test(arguments: ["0", "-1", "abc", "1.5", "99999999999999999999", "9223372036854775808", "+5", " 1", "1 ", "1a",
                      "0x1F", "1e3", "%31", "\u{0661}", "１", "-0", "00"])
    func idsThatAreNotPositiveIntegersAreNotFound(_ id: String) {
        #expect(match("GET", "/api/v1/products/\(id)") == .notFound)
        #expect(Router.positiveID(Substring(id)) == nil)
    }

    @Test func largestIDIsInt64Max() {
        #expect(match("GET", "/api/v1/products/9223372036854775807")
            == .found(name: "/api/v1/products/{id}", method: "GET", ids: [Int64.max]))
    }

    /// Leading zeros are digits of a positive integer, so `007` is product 7 (the same resource as `/7`).
    @Test func leadingZerosNameTheSameID() {
        #expect(match("GET", "/api/v1/products/007") == .found(name: "/api/v1/products/{id}", method: "GET", ids: [7]))
    }

    @Test func patternSegments() {
        let names = router.routes.map(\.name)
        #expect(names.count == 9)
        #expect(router.routes[4].segments == [.literal(Array("api".utf8)), .literal(Array("v1".utf8)), .literal(Array("products".utf8)), .id])
        #expect(router.routes[0].segments == [])
    }
}
