import StockroomCore

/// Orders: place, list, read, cancel (OrderStore holds the transactions).
enum OrderHandlers {
    static func register(in router: inout Router) {
        router.add("POST", "/api/v1/orders", create)
        router.add("GET", "/api/v1/orders", list)
        router.add("GET", "/api/v1/orders/{id}", show)
        router.add("POST", "/api/v1/orders/{id}/cancel", cancel)
    }

    @Sendable static func create(_ context: RequestContext, _: [Int64]) throws -> Response {
        guard let token = context.bearerToken else { throw HTTPError.unauthorized }
        let request: OrderRequest
        let key: String?
        do {
            let body = try context.jsonBody(allowed: ["items", "product_id", "quantity", "promo_code"])
            request = try OrderRequest(body: body)
            key = try OrderRequest.validatedIdempotencyKey(context.request.parameters["HTTP_IDEMPOTENCY_KEY"])
        } catch {
            // The token is checked before the body: an unknown or expired token is a 401 even when the
            // body is wrong too. Only requests that fail anyway pay for this separate lookup.
            _ = try context.authenticatedUser()
            throw error
        }
        let buyer: OrderStore.Buyer = key == nil
            ? .session(tokenHash: SessionToken.hash(token))
            : .user(try context.authenticatedUser())
        let placement = try context.orders.place(request, idempotencyKey: key, buyer: buyer,
                                                 lockDelayMicroseconds: context.testLockDelayMicroseconds)
        if !placement.replayed {
            context.application.metrics.orderPlaced(lockWaitNanoseconds: placement.lockWaitNanoseconds,
                                                    lockHeldNanoseconds: placement.lockHeldNanoseconds)
        }
        var headers = [("Location", "/api/v1/orders/\(placement.order.id)")]
        if placement.replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(201, placement.order.json, headers: headers)
    }

    @Sendable static func list(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        let page = try PageRequest(context.request)
        let orders = try context.orders.page(after: page.after, limit: page.limit + 1, userID: user.isAdmin ? nil : user.id)
        return .json(200, page.body(orders.map(\.json), ids: orders.map(\.id)))
    }

    @Sendable static func show(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        guard let order = try context.orders.find(id: ids[0]), order.userID == user.id || user.isAdmin else {
            throw StoreError.orderNotFound
        }
        return .json(200, order.json)
    }

    @Sendable static func cancel(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        let order = try context.orders.cancel(id: ids[0], by: user)
        context.logger.info("order cancelled", metadata: ["order.id": "\(ids[0])"])
        return .json(200, order.json)
    }
}
