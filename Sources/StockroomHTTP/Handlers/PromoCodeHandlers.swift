import StockroomCore

/// Promo codes: admin-only CRUD (PromoCodeStore).
enum PromoCodeHandlers {
    static func register(in router: inout Router) {
        router.add("GET", "/api/v1/promo-codes", list)
        router.add("POST", "/api/v1/promo-codes", create)
        router.add("GET", "/api/v1/promo-codes/{id}", show)
        router.add("PUT", "/api/v1/promo-codes/{id}", replace)
        router.add("DELETE", "/api/v1/promo-codes/{id}", delete)
    }

    static let fields: Set<String> = ["code", "kind", "value", "min_subtotal", "max_redemptions", "max_per_user", "starts_at", "ends_at"]

    @Sendable static func list(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        try context.checkNoBodyRequest()
        let page = try PageRequest(context.request)
        let codes = try context.promoCodes.page(after: page.after, limit: page.limit + 1)
        let now = Timestamp.now()
        return .json(200, page.body(codes.map { $0.json(at: now) }, ids: codes.map(\.id)))
    }

    @Sendable static func create(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let code = try context.promoCodes.create(try PromoCode.Fields(body: try context.jsonBody(allowed: fields)))
        context.logger.info("promo code created", metadata: ["promo_code.id": "\(code.id)"])
        return .json(201, code.json(at: Timestamp.now()), headers: [("Location", "/api/v1/promo-codes/\(code.id)")])
    }

    @Sendable static func show(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        try context.checkNoBodyRequest()
        guard let code = try context.promoCodes.find(id: ids[0]) else { throw StoreError.promoCodeNotFound }
        return .json(200, code.json(at: Timestamp.now()))
    }

    @Sendable static func replace(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let fields = try PromoCode.Fields(body: try context.jsonBody(allowed: fields))
        return .json(200, try context.promoCodes.replace(id: ids[0], with: fields).json(at: Timestamp.now()))
    }

    @Sendable static func delete(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        try context.checkNoBodyRequest()
        try context.promoCodes.delete(id: ids[0])
        context.logger.info("promo code deleted", metadata: ["promo_code.id": "\(ids[0])"])
        return .noContent()
    }
}
