import MariaDB

/// Products: public reads, admin-only writes. Every stock change locks the row (`FOR UPDATE`) in
/// an explicit transaction and goes through the stock ledger in that same transaction (its
/// trigger, sql/005, is the one writer of `products.stock`).
enum ProductResource {
    static func register(in router: inout Router) {
        router.add("GET", "/api/v1/products", list)
        router.add("POST", "/api/v1/products", create)
        router.add("GET", "/api/v1/products/{id}", show)
        router.add("PUT", "/api/v1/products/{id}", replace)
        router.add("DELETE", "/api/v1/products/{id}", delete)
        router.add("POST", "/api/v1/products/{id}/restock", restock)
    }

    static let productNotFound = HTTPError(404, "product_not_found", "No such product.")

    static func list(_ context: RequestContext, _: [Int64]) throws -> Response {
        try context.checkNoBodyRequest()
        let page = try PageRequest(context.request)
        let rows = try context.database.read { connection in
            try connection.query("""
                SELECT \(Product.columns) FROM products WHERE deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?
                """, [.int(page.after), .int(page.limit + 1)]).rows
        }
        // Written straight from the rows: up to `limit` items, then next_after if a further row came back.
        var writer = JSONWriter(capacity: 256 * rows.count + 64)
        writer.writeRaw("{\"items\":[")
        for (index, row) in rows.prefix(Int(page.limit)).enumerated() {
            if index > 0 { writer.writeRaw(",") }
            try Product.writeJSON(row: row, into: &writer)
        }
        writer.writeRaw("],\"next_after\":")
        if rows.count > Int(page.limit), let last = rows[Int(page.limit) - 1].slice(0) {
            writer.writeRaw(last)
        } else {
            writer.writeRaw("null")
        }
        writer.writeRaw("}")
        return Response(status: 200, headers: [("Content-Type", "application/json")], body: writer.bytes)
    }

    static func show(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        try context.checkNoBodyRequest()
        let row = try context.database.read { connection in
            try connection.query("SELECT \(Product.columns) FROM products WHERE id = ? AND deleted_at IS NULL",
                                 [.int(ids[0])]).first
        }
        guard let row else { throw productNotFound }
        var writer = JSONWriter(capacity: 256)
        try Product.writeJSON(row: row, into: &writer)
        return Response(status: 200, headers: [("Content-Type", "application/json")], body: writer.bytes)
    }

    static func create(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let (name, price, stock) = try Product.fields(from: context)
        let now = Timestamp.now()
        let id = try context.database.transaction { connection -> Int64 in
            // Born with no stock; the ledger's first row gives it its stock.
            let id = Int64(try connection.query(
                "INSERT INTO products (name, price, stock, created_at, updated_at) VALUES (?, ?, 0, ?, ?)",
                [.string(name), .string(price.description), .string(now.databaseText), .string(now.databaseText)]
            ).lastInsertID)
            try StockLedger.append(connection, productID: id, delta: stock, reason: .created, at: now)
            return id
        }
        let product = Product(id: id, name: name, price: price, stock: stock, createdAt: now, updatedAt: now)
        context.logger.info("product created", metadata: ["product.id": "\(id)"])
        return .json(201, product.json, headers: [("Location", "/api/v1/products/\(id)")])
    }

    static func replace(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let (name, price, stock) = try Product.fields(from: context)
        let now = Timestamp.now()
        let product = try context.database.transaction { connection -> Product in
            guard var product = try lockedProduct(connection, id: ids[0]) else { throw productNotFound }
            try connection.query("UPDATE products SET name = ?, price = ?, updated_at = ? WHERE id = ?",
                                 [.string(name), .string(price.description), .string(now.databaseText), .int(product.id)])
            if stock != product.stock {
                try StockLedger.append(connection, productID: product.id, delta: stock - product.stock, reason: .adminSet, at: now)
            }
            product.name = name
            product.price = price
            product.stock = stock
            product.updatedAt = now
            return product
        }
        return .json(200, product.json)
    }

    static func delete(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        try context.checkNoBodyRequest()
        let now = Timestamp.now()
        // Soft delete: orders keep naming the row; the API stops showing it.
        let deleted = try context.database.transaction { connection in
            try connection.query("UPDATE products SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                                 [.string(now.databaseText), .string(now.databaseText), .int(ids[0])]).affectedRows
        }
        guard deleted == 1 else { throw productNotFound }
        context.logger.info("product deleted", metadata: ["product.id": "\(ids[0])"])
        return .noContent()
    }

    static func restock(_ context: RequestContext, _ ids: [Int64]) throws -> Response {
        _ = try context.requireAdmin()
        let body = try context.jsonBody(allowed: ["quantity"])
        let quantity = try body.integer("quantity", in: 1...1_000_000)
        let now = Timestamp.now()
        let product = try context.database.transaction { connection -> Product in
            guard var product = try lockedProduct(connection, id: ids[0]) else { throw productNotFound }
            guard product.stock + quantity <= Product.maximumStock else {
                throw HTTPError.validation("quantity", "Restocking \(quantity) would take stock above \(Product.maximumStock).")
            }
            try StockLedger.append(connection, productID: product.id, delta: quantity, reason: .restock, at: now)
            product.stock += quantity
            product.updatedAt = now
            return product
        }
        return .json(200, product.json)
    }

    /// Reads and locks a live product row until the end of the transaction.
    static func lockedProduct(_ connection: MariaDBConnection, id: Int64) throws -> Product? {
        try connection.query("SELECT \(Product.columns) FROM products WHERE id = ? AND deleted_at IS NULL FOR UPDATE",
                             [.int(id)]).first.flatMap(Product.init(row:))
    }
}
