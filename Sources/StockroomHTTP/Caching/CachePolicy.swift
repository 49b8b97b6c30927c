/// How browsers and caches may keep a route's answers. Each route names its policy in the route
/// table (`Router.add`); `RequestHandler` applies it to every answer, errors included, in one place.
enum CachePolicy: Sendable {
    /// Public catalog reads: a 200 carries a strong `ETag` (a digest of its body) and `no-cache`,
    /// so a cache may keep it but must revalidate every use, since stock changes at any moment.
    case revalidate
    /// Everything that carries a token, user data, carts, orders, admin data, operations (health,
    /// metrics), and every error: never stored.
    case noStore

    static let noStoreValue = "no-store"
    static let revalidateValue = "no-cache"
}

extension Response {
    /// Adds Cache-Control (and, for a revalidated 200 to GET or HEAD, the ETag), and turns the
    /// answer into a bodyless 304 when the request's If-None-Match matches that tag. Conditions are
    /// evaluated only on a 200 (RFC 9110 §13.2.1: never on an error), and never on other methods.
    mutating func applyCachePolicy(_ policy: CachePolicy, to request: Request) {
        // Room for ETag and X-Request-Id (appended next by RequestHandler) too: one growth, not two.
        headers.reserveCapacity(headers.count + 3)
        guard policy == .revalidate, status == 200, request.method == "GET" || request.method == "HEAD" else {
            headers.append(("Cache-Control", CachePolicy.noStoreValue))
            return
        }
        let tag = EntityTag(digestOf: body)
        headers.append(("Cache-Control", CachePolicy.revalidateValue))
        headers.append(("ETag", tag.headerValue))
        guard let condition = request.parameters["HTTP_IF_NONE_MATCH"], IfNoneMatch(condition)?.matches(tag) == true else {
            return
        }
        // A 304 keeps the validator and caching fields, and drops the body and its Content-Type.
        status = 304
        body = []
        headers.removeAll { $0.name == "Content-Type" }
    }
}
