import StockroomCore

/// Products: public reads, admin-only writes (ProductStore holds the transactions and the ledger).
enum ProductHandlers {
    static func register(in router: inout Router) {
        router.add("GET", "/api/v1/products", cache: .revalidate, list)
        router.add("POST", "/api/v1/products", create)
        router.add("GET", "/api/v1/products/{id}", cache: .revalidate, show)
        router.add("PUT", "/api/v1/products/{id}", replace)
        router.add("DELETE", "/api/v1/products/{id}", delete)
        router.add("POST", "/api/v1/products/{id}/restock", restock)
    }

    @Sendable static func list(_ context: RequestContext, _: [Int64]) throws -> Response {
        try context.checkNoBodyRequest()
        let page = try PageRequest(context.request)
        let rows = try context.products.page(after: page.after, limit: page.limit + 1)
        // Written straight from the rows: up to `limit` items, then next_after if a further row came back.
        var writer = JSONWriter(capacity: 256 * rows.count + 64)
        writer.writeRaw("{\"items\":[")
        for (index, row) in rows.prefix(Int(page.limit)).enumerated() {
            if index > 0 { writer.writeRaw(",") }
            row.writeJSON(into: &writer)
        }
        writer.writeRaw("],\"next_after\":")
        if rows.count > Int(page.limit) {
            writer.writeRaw(rows[Int(page.limit) - 1].id)
        } else {
            writer.writeRaw("null")
        }
        writer.writeRaw("}")
        return Response(status: 200, headers: [("Content-Type", "application/json")], body: writer.bytes)
    }

    @Sendable static func show(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        try context.checkNoBodyRequest()
        guard let row = try context.products.find(id: ids[0]) else { throw StoreError.productNotFound }
        var writer = JSONWriter(capacity: 256)
        row.writeJSON(into: &writer)
        return Response(status: 200, headers: [("Content-Type", "application/json")], body: writer.bytes)
    }

    @Sendable static func create(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let fields = try Product.Fields(body: try context.jsonBody(allowed: ["name", "price", "stock"]))
        let product = try context.products.create(fields)
        context.logger.info("product created", metadata: ["product.id": "\(product.id)"])
        return .json(201, product.json, headers: [("Location", "/api/v1/products/\(product.id)")])
    }

    @Sendable static func replace(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let fields = try Product.Fields(body: try context.jsonBody(allowed: ["name", "price", "stock"]))
        return .json(200, try context.products.replace(id: ids[0], with: fields).json)
    }

    @Sendable static func delete(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        try context.checkNoBodyRequest()
        try context.products.delete(id: ids[0])
        context.logger.info("product deleted", metadata: ["product.id": "\(ids[0])"])
        return .noContent()
    }

    @Sendable static func restock(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let body = try context.jsonBody(allowed: ["quantity"])
        let quantity = try body.integer("quantity", in: Product.restockQuantities)
        return .json(200, try context.products.restock(id: ids[0], quantity: quantity).json)
    }
}
