import MariaDB

extension OrderStore {
    /// The statements on orders, their lines and idempotency keys.
    enum Statements {
        /// An order row's columns as the joined reads return them.
        struct OrderHeader {
            let id: Int64
            let userID: Int64
            let status: Order.Status
            let createdAt: Timestamp
            let updatedAt: Timestamp
            let pricing: Pricing
            let promoCode: String?
        }

        /// The columns of an order row, then of one of its lines: what `joined(_:)` decodes.
        static let joinedColumns = """
            o.id, o.user_id, o.status, o.created_at, o.updated_at, \
            i.product_id, i.name, i.quantity, i.unit_price, i.line_total, \
            o.subtotal, o.discount, o.delivery, o.tax, o.total, o.promo_code
            """

        static func joined(_ row: MariaDBRow, _ statement: Any.Type) throws -> (order: OrderHeader, line: Order.Line) {
            func timestamp(_ index: Int) throws -> Timestamp {
                try row.required(index, of: statement) { $0.string($1).flatMap(Timestamp.init(databaseText:)) }
            }
            func money(_ index: Int) throws -> Money {
                try row.required(index, of: statement) { $0.string($1).flatMap(Money.init(decimalText:)) }
            }
            let header = OrderHeader(
                id: try row.requiredInt(0, of: statement), userID: try row.requiredInt(1, of: statement),
                status: try row.required(2, of: statement) { $0.string($1).flatMap(Order.Status.init(rawValue:)) },
                createdAt: try timestamp(3), updatedAt: try timestamp(4),
                pricing: Pricing(subtotal: try money(10), discount: try money(11), delivery: try money(12), tax: try money(13),
                                 total: try money(14)),
                promoCode: row.string(15))
            let line = PricedLine(productID: try row.requiredInt(5, of: statement), name: try row.requiredString(6, of: statement),
                                  quantity: try row.requiredInt(7, of: statement), unitPrice: try money(8), lineTotal: try money(9))
            return (header, line)
        }

        struct WithLines: MariaDBQuery {
            let id: Int64
            static let sql = """
                SELECT \(Statements.joinedColumns) FROM orders o JOIN order_items i ON i.order_id = o.id
                WHERE o.id = ? ORDER BY i.product_id
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> (order: OrderHeader, line: Order.Line) { try Statements.joined(row, Self.self) }
        }

        struct PageOfUser: MariaDBQuery {
            let userID: Int64
            let after: Int64
            let limit: Int64
            static let sql = """
                SELECT \(Statements.joinedColumns) FROM (SELECT * FROM orders WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?) o
                JOIN order_items i ON i.order_id = o.id ORDER BY o.id, i.product_id
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .int(after), .int(limit)] }
            func decode(_ row: MariaDBRow) throws -> (order: OrderHeader, line: Order.Line) { try Statements.joined(row, Self.self) }
        }

        struct Page: MariaDBQuery {
            let after: Int64
            let limit: Int64
            static let sql = """
                SELECT \(Statements.joinedColumns) FROM (SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?) o
                JOIN order_items i ON i.order_id = o.id ORDER BY o.id, i.product_id
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(after), .int(limit)] }
            func decode(_ row: MariaDBRow) throws -> (order: OrderHeader, line: Order.Line) { try Statements.joined(row, Self.self) }
        }

        struct LockOrder: MariaDBQuery {
            let id: Int64
            static let sql = "SELECT user_id, status FROM orders WHERE id = ? FOR UPDATE"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> (userID: Int64, status: Order.Status) {
                (try row.requiredInt(0, of: Self.self),
                 try row.required(1, of: Self.self) { $0.string($1).flatMap(Order.Status.init(rawValue:)) })
            }
        }

        struct Quantities: MariaDBQuery {
            let orderID: Int64
            static let sql = "SELECT product_id, quantity FROM order_items WHERE order_id = ? ORDER BY product_id"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(orderID)] }
            func decode(_ row: MariaDBRow) throws -> (productID: Int64, quantity: Int64) {
                (try row.requiredInt(0, of: Self.self), try row.requiredInt(1, of: Self.self))
            }
        }

        /// Locks products in ascending id order (ids sorted, padded to a few statement shapes).
        struct LockProducts: MariaDBCommand {
            let ids: [Int64]
            init(ids: [Int64]) { self.ids = StatementShape.padded(ids) }
            var sql: String { "SELECT id FROM products WHERE id IN (\(StatementShape.placeholders(ids.count))) ORDER BY id FOR UPDATE" }
            var bindings: [MariaDBValue] { ids.map { .int($0) } }
        }

        struct MarkCancelled: MariaDBCommand {
            let id: Int64
            let at: Timestamp
            static let sql = "UPDATE orders SET status = 'cancelled', updated_at = ? WHERE id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(at.databaseText), .int(id)] }
        }

        struct IdempotencyKey: MariaDBQuery {
            let userID: Int64
            let key: String
            static let sql = "SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .string(key)] }
            func decode(_ row: MariaDBRow) throws -> (requestHash: [UInt8], orderID: Int64) {
                (try row.required(0, of: Self.self) { $0.bytes($1) }, try row.requiredInt(1, of: Self.self))
            }
        }

        struct InsertIdempotencyKey: MariaDBCommand {
            let userID: Int64
            let key: String
            let requestHash: [UInt8]
            let orderID: Int64
            let at: Timestamp
            static let sql = "INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .string(key), .bytes(requestHash), .int(orderID), .string(at.databaseText)] }
        }

        struct InsertOrder: MariaDBCommand {
            let userID: Int64
            let at: Timestamp
            static let sql = "INSERT INTO orders (user_id, status, created_at, updated_at) VALUES (?, 'pending', ?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .string(at.databaseText), .string(at.databaseText)] }
        }

        /// The order row for the user of a live session, in one statement; no row when the session is not live.
        struct InsertOrderForSession: MariaDBQuery {
            let tokenHash: [UInt8]
            let at: Timestamp
            static let sql = """
                INSERT INTO orders (user_id, status, created_at, updated_at) \
                SELECT s.user_id, 'pending', ?, ? FROM sessions s WHERE s.token_hash = ? AND s.expires_at > ? \
                RETURNING id, user_id
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(at.databaseText), .string(at.databaseText), .bytes(tokenHash), .string(at.databaseText)] }
            func decode(_ row: MariaDBRow) throws -> (orderID: Int64, userID: Int64) {
                (try row.requiredInt(0, of: Self.self), try row.requiredInt(1, of: Self.self))
            }
        }

        struct ForSale {
            let id: Int64
            let name: String
            let price: Money
            let stock: Int64
        }

        /// Locks the live products among `ids` in ascending id order: the order's first lock.
        struct LockForSale: MariaDBQuery {
            let ids: [Int64]
            init(ids: [Int64]) { self.ids = StatementShape.padded(ids) }
            var sql: String {
                "SELECT id, name, price, stock FROM products WHERE id IN (\(StatementShape.placeholders(ids.count))) "
                    + "AND deleted_at IS NULL ORDER BY id FOR UPDATE"
            }
            var bindings: [MariaDBValue] { ids.map { .int($0) } }
            func decode(_ row: MariaDBRow) throws -> ForSale {
                ForSale(id: try row.requiredInt(0, of: Self.self), name: try row.requiredString(1, of: Self.self),
                        price: try row.required(2, of: Self.self) { $0.string($1).flatMap(Money.init(decimalText:)) },
                        stock: try row.requiredInt(3, of: Self.self))
            }
        }

        struct InsertLines: MariaDBCommand {
            let orderID: Int64
            let lines: [Order.Line]
            var sql: String {
                "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price, line_total) VALUES "
                    + StatementShape.rows(columns: 6, count: lines.count)
            }
            var bindings: [MariaDBValue] {
                lines.flatMap { [.int(orderID), .int($0.productID), .string($0.name), .int($0.quantity),
                                 .string($0.unitPrice.description), .string($0.lineTotal.description)] }
            }
        }

        /// The order's pricing and code, once its lines are priced under the locks. Setting the
        /// code redeems it (the orders trigger of sql/006 counts it).
        struct Price: MariaDBCommand {
            let orderID: Int64
            let pricing: Pricing
            let promoCode: (id: Int64, text: String)?
            static let sql = """
                UPDATE orders SET subtotal = ?, discount = ?, delivery = ?, tax = ?, total = ?, promo_code_id = ?, promo_code = ? \
                WHERE id = ?
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] {
                [.string(pricing.subtotal.description), .string(pricing.discount.description), .string(pricing.delivery.description),
                 .string(pricing.tax.description), .string(pricing.total.description),
                 promoCode.map { .int($0.id) } ?? .null, promoCode.map { .string($0.text) } ?? .null, .int(orderID)]
            }
        }
    }
}
