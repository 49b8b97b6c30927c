import MariaDB

/// Products in the database. Reads run outside transactions; every write is one transaction, and
/// every stock change locks the row (`FOR UPDATE`) and goes through the `StockLedger`.
public struct ProductStore {
    private let database: MariaDBSession

    public init(_ database: MariaDBSession) { self.database = database }

    /// A page of live products by ascending id after `after`: up to `limit` of them. First the
    /// primary key's next rows, skipping deleted ones, examining at most 2 × `limit` rows: half the
    /// database's CPU of the live index, which looks up every row it finds in the primary key
    /// (docs/benchmarks.md). A short answer is the table's end or too many deleted rows for that
    /// budget; the live index then gives the page whatever the share of deleted products.
    public func page(after: Int64, limit: Int64) throws -> [ProductColumns] {
        try database.read { connection in
            let scanned = try connection.rows(Statements.LivePageByKey(after: after, limit: limit, examined: 2 * limit))
            if scanned.count == limit { return scanned }
            return try connection.rows(Statements.LivePage(after: after, limit: limit))
        }
    }

    public func find(id: Int64) throws -> ProductColumns? {
        try database.read { try $0.first(Statements.Live(id: id)) }
    }

    public func create(_ fields: Product.Fields) throws -> Product {
        let now = Timestamp.now()
        let id = try database.transaction { connection -> Int64 in
            // Born with no stock; the ledger's first row gives it its stock.
            let id = Int64(try connection.execute(Statements.Insert(name: fields.name, price: fields.price, at: now)).lastInsertID)
            try StockLedger.append(connection, changes: [(id, fields.stock)], reason: .created, at: now)
            return id
        }
        return Product(id: id, name: fields.name, price: fields.price, stock: fields.stock, createdAt: now, updatedAt: now)
    }

    public func replace(id: Int64, with fields: Product.Fields) throws -> Product {
        let now = Timestamp.now()
        return try database.transaction { connection in
            guard var product = try connection.first(Statements.Lock(id: id)) else { throw StoreError.productNotFound }
            try connection.execute(Statements.UpdateDetails(id: id, name: fields.name, price: fields.price, at: now))
            if fields.stock != product.stock {
                try StockLedger.append(connection, changes: [(id, fields.stock - product.stock)], reason: .adminSet, at: now)
            }
            product.name = fields.name
            product.price = fields.price
            product.stock = fields.stock
            product.updatedAt = now
            return product
        }
    }

    /// Soft delete: orders keep naming the row; the API stops showing it, and it leaves every
    /// cart in the same transaction. The product row is locked first, then the cart lines: a cart
    /// write holds a shared lock on the product before it touches a line, so none slips in between.
    public func delete(id: Int64) throws {
        let now = Timestamp.now()
        try database.transaction { connection in
            guard try connection.execute(Statements.SoftDelete(id: id, at: now)).affectedRows == 1 else {
                throw StoreError.productNotFound
            }
            try connection.execute(CartStore.Statements.DeleteProductLines(productID: id))
        }
    }

    public func restock(id: Int64, quantity: Int64) throws -> Product {
        let now = Timestamp.now()
        return try database.transaction { connection in
            guard var product = try connection.first(Statements.Lock(id: id)) else { throw StoreError.productNotFound }
            guard product.stock + quantity <= Product.maximumStock else { throw StoreError.restockAboveMaximum(quantity: quantity) }
            try StockLedger.append(connection, changes: [(id, quantity)], reason: .restock, at: now)
            product.stock += quantity
            product.updatedAt = now
            return product
        }
    }
}

extension ProductStore {
    /// The statements on `products`; `columns` and the two decodings below are the only places that
    /// know the column order.
    enum Statements {
        static let columns = "id, name, price, stock, created_at, updated_at"

        static func columns(of row: MariaDBRow, _ statement: Any.Type) throws -> ProductColumns {
            guard let id = row.slice(0), let name = row.slice(1), let price = row.slice(2), let stock = row.slice(3),
                  let created = row.slice(4), let updated = row.slice(5), created.count >= 19, updated.count >= 19 else {
                throw MariaDBDecodingError(statement: String(describing: statement), column: 0)
            }
            return ProductColumns(id: id, name: name, price: price, stock: stock, createdAt: created, updatedAt: updated)
        }

        static func product(of row: MariaDBRow, _ statement: Any.Type) throws -> Product {
            Product(id: try row.requiredInt(0, of: statement), name: try row.requiredString(1, of: statement),
                    price: try row.required(2, of: statement) { $0.string($1).flatMap(Money.init(decimalText:)) },
                    stock: try row.requiredInt(3, of: statement),
                    createdAt: try row.required(4, of: statement) { $0.string($1).flatMap(Timestamp.init(databaseText:)) },
                    updatedAt: try row.required(5, of: statement) { $0.string($1).flatMap(Timestamp.init(databaseText:)) })
        }

        /// `LivePage` along the primary key; stops after `examined` rows (deleted ones included)
        /// with whatever it found, a prefix of the page (MariaDB's warning 1931).
        struct LivePageByKey: MariaDBQuery {
            let after: Int64
            let limit: Int64
            let examined: Int64
            static let sql = """
                SELECT \(Statements.columns) FROM products FORCE INDEX (PRIMARY) WHERE deleted_at IS NULL AND id > ? \
                ORDER BY id LIMIT ? ROWS EXAMINED ?
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(after), .int(limit), .int(examined)] }
            func decode(_ row: MariaDBRow) throws -> ProductColumns { try Statements.columns(of: row, Self.self) }
        }

        struct LivePage: MariaDBQuery {
            let after: Int64
            let limit: Int64
            static let sql = "SELECT \(Statements.columns) FROM products WHERE deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(after), .int(limit)] }
            func decode(_ row: MariaDBRow) throws -> ProductColumns { try Statements.columns(of: row, Self.self) }
        }

        struct Live: MariaDBQuery {
            let id: Int64
            static let sql = "SELECT \(Statements.columns) FROM products WHERE id = ? AND deleted_at IS NULL"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> ProductColumns { try Statements.columns(of: row, Self.self) }
        }

        /// Reads and locks a live product row until the end of the transaction.
        struct Lock: MariaDBQuery {
            let id: Int64
            static let sql = "SELECT \(Statements.columns) FROM products WHERE id = ? AND deleted_at IS NULL FOR UPDATE"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> Product { try Statements.product(of: row, Self.self) }
        }

        struct Insert: MariaDBCommand {
            let name: String
            let price: Money
            let at: Timestamp
            static let sql = "INSERT INTO products (name, price, stock, created_at, updated_at) VALUES (?, ?, 0, ?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(name), .string(price.description), .string(at.databaseText), .string(at.databaseText)] }
        }

        struct UpdateDetails: MariaDBCommand {
            let id: Int64
            let name: String
            let price: Money
            let at: Timestamp
            static let sql = "UPDATE products SET name = ?, price = ?, updated_at = ? WHERE id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(name), .string(price.description), .string(at.databaseText), .int(id)] }
        }

        struct SoftDelete: MariaDBCommand {
            let id: Int64
            let at: Timestamp
            static let sql = "UPDATE products SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(at.databaseText), .string(at.databaseText), .int(id)] }
        }
    }
}
