import MariaDB

/// Orders: place, list, read, cancel.
enum OrderResource {
    static func register(in router: inout Router) {
        router.add("POST", "/api/v1/orders", create)
        router.add("GET", "/api/v1/orders", list)
        router.add("GET", "/api/v1/orders/{id}", show)
        router.add("POST", "/api/v1/orders/{id}/cancel", cancel)
    }

    static let orderNotFound = HTTPError(404, "order_not_found", "No such order.")

    static func create(_ context: RequestContext, _: [Int64]) throws -> Response {
        guard let token = context.bearerToken else { throw HTTPError.unauthorized }
        let request: OrderRequest
        let key: String?
        do {
            let body = try context.jsonBody(allowed: ["items", "product_id", "quantity"])
            request = try OrderRequest(body: body)
            key = try OrderRequest.validatedIdempotencyKey(context.request.parameters["HTTP_IDEMPOTENCY_KEY"])
        } catch {
            // The token is checked before the body: an unknown or expired token is a 401 even when the
            // body is wrong too. Only requests that fail anyway pay for this separate lookup.
            _ = try context.authenticatedUser()
            throw error
        }
        let buyer: OrderPlacement.Buyer = key == nil
            ? .session(tokenHash: SessionToken.hash(token))
            : .user(try context.authenticatedUser())
        let outcome = try OrderPlacement.place(request, idempotencyKey: key, buyer: buyer, context: context)
        var headers = [("Location", "/api/v1/orders/\(outcome.order.id)")]
        if outcome.replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(201, outcome.order.json, headers: headers)
    }

    static func list(_ context: RequestContext, _: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        let page = try PageRequest(context.request)
        let orders = try OrderStore.page(after: page.after, limit: page.limit + 1,
                                         userID: user.role == .admin ? nil : user.id, database: context.database)
        return .json(200, page.body(orders.map(\.json), ids: orders.map(\.id)))
    }

    static func show(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        guard let order = try OrderStore.find(id: ids[0], database: context.database),
              order.userID == user.id || user.role == .admin else { throw orderNotFound }
        return .json(200, order.json)
    }

    /// Sets `cancelled` and gives the stock back under the products' row locks, in one transaction.
    /// The order row is locked first, so of two racing cancels the second sees `cancelled` (409).
    static func cancel(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        let user = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        let now = Timestamp.now()
        do {
            try giveBack(orderID: ids[0], user: user, at: now, database: context.database)
        } catch let error as MariaDBError where error.code == .checkConstraintViolated {
            throw HTTPError(409, "order_not_cancellable", "Cancelling would take a product's stock above \(Product.maximumStock).")
        }
        guard let order = try OrderStore.find(id: ids[0], database: context.database) else { throw orderNotFound }
        context.logger.info("order cancelled", metadata: ["order.id": "\(ids[0])"])
        return .json(200, order.json)
    }

    private static func giveBack(orderID: Int64, user: User, at now: Timestamp, database: MariaDBSession) throws {
        let ids = [orderID]
        try database.transaction { connection in
            guard let row = try connection.query("SELECT user_id, status FROM orders WHERE id = ? FOR UPDATE", [.int(ids[0])]).first,
                  let owner = row.int(0), owner == user.id || user.role == .admin else { throw orderNotFound }
            guard row.string(1) != Order.Status.cancelled.rawValue else {
                throw HTTPError(409, "order_not_cancellable", "This order is already cancelled.")
            }
            let lines = try connection.query(
                "SELECT product_id, quantity FROM order_items WHERE order_id = ? ORDER BY product_id", [.int(ids[0])]
            ).rows.compactMap { row in row.int(0).flatMap { id in row.int(1).map { (id, $0) } } }
            // The product rows are locked first, in ascending id order as an order locks them: a
            // ledger row's foreign key would otherwise take a shared lock on its product before the
            // ledger trigger's UPDATE asks for the exclusive one, and two cancels of the same
            // product would deadlock on that upgrade. Then the ledger rows give the stock back.
            let productIDs = paddedForStatementShape(lines.map(\.0))
            try connection.query(
                "SELECT id FROM products WHERE id IN (\(placeholders(productIDs.count))) ORDER BY id FOR UPDATE",
                productIDs.map { .int($0) })
            try StockLedger.append(connection, changes: lines, reason: .cancel, orderID: ids[0], at: now)
            try connection.query("UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ?",
                                 [.string(now.databaseText), .int(ids[0])])
        }
    }
}
