import StockroomCore

/// The caller's cart and checkout (CartStore and OrderStore hold the transactions). Nobody sees or
/// changes another's cart: every route works on the signed-in user's own.
enum CartHandlers {
    static func register(in router: inout Router) {
        router.add("GET", "/api/v1/cart", show)
        router.add("DELETE", "/api/v1/cart", clear)
        router.add("POST", "/api/v1/cart/items", addItem)
        router.add("PUT", "/api/v1/cart/items/{id}", setItem)
        router.add("DELETE", "/api/v1/cart/items/{id}", removeItem)
        router.add("PUT", "/api/v1/cart/promo-code", applyPromoCode)
        router.add("DELETE", "/api/v1/cart/promo-code", removePromoCode)
        router.add("POST", "/api/v1/cart/checkout", checkout)
    }

    @Sendable static func show(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        return .json(200, try context.carts.cart(userID: user.id).json)
    }

    @Sendable static func clear(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        try context.carts.clear(userID: user.id)
        return .noContent()
    }

    @Sendable static func addItem(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        let line = try CartLineRequest.adding(try context.jsonBody(allowed: ["product_id", "quantity"]))
        return .json(200, try context.carts.add(userID: user.id, productID: line.productID, quantity: line.quantity).json)
    }

    @Sendable static func setItem(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        let body = try context.jsonBody(allowed: ["quantity"])
        let quantity = try body.integer("quantity", in: Cart.quantityRange)
        return .json(200, try context.carts.set(userID: user.id, productID: ids[0], quantity: quantity).json)
    }

    @Sendable static func removeItem(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        return .json(200, try context.carts.remove(userID: user.id, productID: ids[0]).json)
    }

    @Sendable static func applyPromoCode(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        let code = try context.jsonBody(allowed: ["code"]).string("code")
        return .json(200, try context.carts.applyPromoCode(userID: user.id, code: code).json)
    }

    @Sendable static func removePromoCode(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        return .json(200, try context.carts.removePromoCode(userID: user.id).json)
    }

    /// No body: an empty one, or `{}`.
    @Sendable static func checkout(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        if !context.request.body.isEmpty || context.request.bodyStatus != .complete {
            _ = try context.jsonBody(allowed: [])
        } else {
            try context.checkNoBodyRequest()
        }
        let key = try OrderRequest.validatedIdempotencyKey(context.request.parameters["HTTP_IDEMPOTENCY_KEY"])
        let placement = try context.orders.checkout(userID: user.id, idempotencyKey: key,
                                                    lockDelayMicroseconds: context.testLockDelayMicroseconds)
        if !placement.replayed {
            context.application.metrics.checkedOut(lockWaitNanoseconds: placement.lockWaitNanoseconds,
                                                   lockHeldNanoseconds: placement.lockHeldNanoseconds)
            context.logger.info("checked out", metadata: ["order.id": "\(placement.order.id)"])
        }
        var headers = [("Location", "/api/v1/orders/\(placement.order.id)")]
        if placement.replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(201, placement.order.json, headers: headers)
    }
}
