import MariaDB

extension CartStore {
    /// The statements on carts and their lines.
    enum Statements {
        /// Creates the user's cart row or locks it: the first statement of every cart write and
        /// of checkout's lock (`LockExisting`), so one user's cart changes one at a time.
        struct Lock: MariaDBCommand {
            let userID: Int64
            let at: Timestamp
            static let sql = "INSERT INTO carts (user_id, updated_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE updated_at = VALUES(updated_at)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .string(at.databaseText)] }
        }

        /// Checkout's lock: the cart row if there is one, with its code.
        struct LockExisting: MariaDBQuery {
            let userID: Int64
            static let sql = "SELECT promo_code_id FROM carts WHERE user_id = ? FOR UPDATE"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID)] }
            func decode(_ row: MariaDBRow) throws -> Int64? { row.int(0) }
        }

        struct Header: MariaDBQuery {
            let userID: Int64
            static let sql = "SELECT promo_code_id, updated_at FROM carts WHERE user_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID)] }
            func decode(_ row: MariaDBRow) throws -> (promoCodeID: Int64?, updatedAt: Timestamp) {
                (row.int(0), try row.required(1, of: Self.self) { $0.string($1).flatMap(Timestamp.init(databaseText:)) })
            }
        }

        /// The lines with their products' names and prices now, by ascending product id.
        struct PricedLines: MariaDBQuery {
            let userID: Int64
            static let sql = """
                SELECT i.product_id, p.name, i.quantity, p.price FROM cart_items i JOIN products p ON p.id = i.product_id \
                WHERE i.user_id = ? ORDER BY i.product_id
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID)] }
            func decode(_ row: MariaDBRow) throws -> Cart.Line {
                let quantity = try row.requiredInt(2, of: Self.self)
                let price = try row.required(3, of: Self.self) { $0.string($1).flatMap(Money.init(decimalText:)) }
                return PricedLine(productID: try row.requiredInt(0, of: Self.self), name: try row.requiredString(1, of: Self.self),
                                 quantity: quantity, unitPrice: price, lineTotal: Money(cents: price.cents * quantity))
            }
        }

        /// The lines as checkout orders them: read inside the cart's lock, without locking the
        /// lines themselves (a product delete takes a line's lock after its product's).
        struct Lines: MariaDBQuery {
            let userID: Int64
            static let sql = "SELECT product_id, quantity FROM cart_items WHERE user_id = ? ORDER BY product_id"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID)] }
            func decode(_ row: MariaDBRow) throws -> OrderRequest.Line {
                OrderRequest.Line(productID: try row.requiredInt(0, of: Self.self), quantity: try row.requiredInt(1, of: Self.self))
            }
        }

        /// A live product's stock, with a shared lock: a product delete waits for this write, and
        /// this write for a delete in flight.
        struct ProductStock: MariaDBQuery {
            let id: Int64
            static let sql = "SELECT stock FROM products WHERE id = ? AND deleted_at IS NULL LOCK IN SHARE MODE"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> Int64 { try row.requiredInt(0, of: Self.self) }
        }

        /// How many lines the cart has and the product's quantity in it (0 when absent).
        struct LineCount: MariaDBQuery {
            let userID: Int64
            let productID: Int64
            static let sql = "SELECT COUNT(*), COALESCE(SUM(IF(product_id = ?, quantity, 0)), 0) FROM cart_items WHERE user_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(productID), .int(userID)] }
            func decode(_ row: MariaDBRow) throws -> (lines: Int64, current: Int64) {
                (try row.requiredInt(0, of: Self.self), try row.requiredInt(1, of: Self.self))
            }
        }

        struct SetLine: MariaDBCommand {
            let userID: Int64
            let productID: Int64
            let quantity: Int64
            static let sql = """
                INSERT INTO cart_items (user_id, product_id, quantity) VALUES (?, ?, ?) \
                ON DUPLICATE KEY UPDATE quantity = VALUES(quantity)
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .int(productID), .int(quantity)] }
        }

        struct DeleteLine: MariaDBCommand {
            let userID: Int64
            let productID: Int64
            static let sql = "DELETE FROM cart_items WHERE user_id = ? AND product_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .int(productID)] }
        }

        struct DeleteLines: MariaDBCommand {
            let userID: Int64
            static let sql = "DELETE FROM cart_items WHERE user_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID)] }
        }

        struct SetPromoCode: MariaDBCommand {
            let userID: Int64
            let promoCodeID: Int64?
            static let sql = "UPDATE carts SET promo_code_id = ? WHERE user_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [promoCodeID.map { .int($0) } ?? .null, .int(userID)] }
        }

        /// Product delete: the product leaves every cart.
        struct DeleteProductLines: MariaDBCommand {
            let productID: Int64
            static let sql = "DELETE FROM cart_items WHERE product_id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(productID)] }
        }
    }
}
