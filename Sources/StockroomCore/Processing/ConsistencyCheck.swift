import MariaDB

/// `stockroomctl check`: stock equals the sum of each product's ledger, and the quantities of
/// non-cancelled order lines equal what the ledger says orders and cancels took; each promo code's
/// redemption counters equal its non-cancelled orders and stay within its limits; each order's
/// pricing adds up (subtotal = its lines, total = subtotal - discount + delivery + tax). Read in one
/// snapshot (one transaction), so concurrent orders cannot make it report a false mismatch.
public enum ConsistencyCheck {
    public struct Report: Sendable {
        public var productCount: Int
        public var mismatches: [String]
    }

    public static func run(_ connection: MariaDBConnection) throws -> Report {
        try connection.beginTransaction()
        defer { connection.rollback() }
        let count = try connection.first(Statements.ProductCount()) ?? 0
        let stock = try connection.rows(Statements.StockOffLedger()).map { row in
            "product \(row.product): stock \(row.stock) but ledger sums to \(row.ledger)"
        }
        let orders = try connection.rows(Statements.OrdersOffLedger()).map { row in
            "product \(row.product): non-cancelled orders hold \(row.ordered) but the ledger took \(row.taken)"
        }
        let codes = try connection.rows(Statements.RedemptionsOffOrders()).map { row in
            "promo code \(row.code): \(row.problem)"
        }
        let codeUsers = try connection.rows(Statements.UserRedemptionsOffOrders()).map { row in
            "promo code \(row.code), user \(row.user): \(row.problem)"
        }
        let pricing = try connection.rows(Statements.OrdersNotAddingUp()).map { row in
            "order \(row.order): \(row.problem)"
        }
        return Report(productCount: Int(count), mismatches: stock + orders + codes + codeUsers + pricing)
    }

    enum Statements {
        struct ProductCount: MariaDBQuery {
            var sql: String { "SELECT COUNT(*) FROM products" }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> Int64 { try row.requiredInt(0, of: Self.self) }
        }

        /// Products whose stock is not the sum of their ledger rows.
        struct StockOffLedger: MariaDBQuery {
            var sql: String {
                """
                SELECT p.id, p.stock, COALESCE(l.total, 0) FROM products p
                LEFT JOIN (SELECT product_id, SUM(delta) AS total FROM stock_ledger GROUP BY product_id) l ON l.product_id = p.id
                WHERE p.stock <> COALESCE(l.total, 0) ORDER BY p.id
                """
            }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> (product: String, stock: String, ledger: String) {
                (row.string(0) ?? "?", row.string(1) ?? "?", row.string(2) ?? "?")
            }
        }

        /// Products whose non-cancelled order lines differ from what the ledger's order and cancel rows took.
        struct OrdersOffLedger: MariaDBQuery {
            var sql: String {
                """
                SELECT p.id, COALESCE(o.quantity, 0), COALESCE(l.taken, 0) FROM products p
                LEFT JOIN (SELECT i.product_id, SUM(i.quantity) AS quantity FROM order_items i
                           JOIN orders o ON o.id = i.order_id WHERE o.status <> 'cancelled' GROUP BY i.product_id) o
                  ON o.product_id = p.id
                LEFT JOIN (SELECT product_id, -SUM(delta) AS taken FROM stock_ledger WHERE reason IN ('order', 'cancel')
                           GROUP BY product_id) l ON l.product_id = p.id
                WHERE COALESCE(o.quantity, 0) <> COALESCE(l.taken, 0) ORDER BY p.id
                """
            }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> (product: String, ordered: String, taken: String) {
                (row.string(0) ?? "?", row.string(1) ?? "?", row.string(2) ?? "?")
            }
        }

        /// Codes whose counter is not their non-cancelled orders, or is above their limit with an order
        /// placed since the code's last edit: an admin may lower the limit below the redemptions (PUT
        /// keeps them), and only an order after that can have broken it.
        struct RedemptionsOffOrders: MariaDBQuery {
            var sql: String {
                """
                SELECT c.id, c.redemptions, COALESCE(o.used, 0), c.max_redemptions FROM promo_codes c
                LEFT JOIN (SELECT promo_code_id, COUNT(*) AS used FROM orders WHERE status <> 'cancelled' AND promo_code_id IS NOT NULL
                           GROUP BY promo_code_id) o ON o.promo_code_id = c.id
                WHERE c.redemptions <> COALESCE(o.used, 0)
                   OR (c.redemptions > COALESCE(c.max_redemptions, c.redemptions)
                       AND EXISTS (SELECT 1 FROM orders a WHERE a.promo_code_id = c.id AND a.status <> 'cancelled'
                                   AND a.created_at > c.updated_at))
                ORDER BY c.id
                """
            }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> (code: String, problem: String) {
                (row.string(0) ?? "?", "redemptions \(row.string(1) ?? "?"), non-cancelled orders \(row.string(2) ?? "?"), "
                    + "limit \(row.string(3) ?? "none")")
            }
        }

        /// Per code and user: the counter against that user's non-cancelled orders, and the per-user
        /// limit when that user has an order with the code since its last edit (as above).
        struct UserRedemptionsOffOrders: MariaDBQuery {
            var sql: String {
                """
                SELECT k.promo_code_id, k.user_id, COALESCE(u.redemptions, 0), COALESCE(o.used, 0), c.max_per_user FROM
                  (SELECT promo_code_id, user_id FROM promo_code_users
                   UNION SELECT promo_code_id, user_id FROM orders WHERE promo_code_id IS NOT NULL) k
                JOIN promo_codes c ON c.id = k.promo_code_id
                LEFT JOIN promo_code_users u ON u.promo_code_id = k.promo_code_id AND u.user_id = k.user_id
                LEFT JOIN (SELECT promo_code_id, user_id, COUNT(*) AS used FROM orders
                           WHERE status <> 'cancelled' AND promo_code_id IS NOT NULL GROUP BY promo_code_id, user_id) o
                  ON o.promo_code_id = k.promo_code_id AND o.user_id = k.user_id
                WHERE COALESCE(u.redemptions, 0) <> COALESCE(o.used, 0)
                   OR (COALESCE(u.redemptions, 0) > COALESCE(c.max_per_user, COALESCE(u.redemptions, 0))
                       AND EXISTS (SELECT 1 FROM orders a WHERE a.promo_code_id = k.promo_code_id AND a.user_id = k.user_id
                                   AND a.status <> 'cancelled' AND a.created_at > c.updated_at))
                ORDER BY k.promo_code_id, k.user_id
                """
            }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> (code: String, user: String, problem: String) {
                (row.string(0) ?? "?", row.string(1) ?? "?",
                 "redemptions \(row.string(2) ?? "?"), non-cancelled orders \(row.string(3) ?? "?"), limit \(row.string(4) ?? "none")")
            }
        }

        /// Orders whose pricing does not add up.
        struct OrdersNotAddingUp: MariaDBQuery {
            var sql: String {
                """
                SELECT o.id, o.subtotal, COALESCE(l.lines_total, 0), o.total, o.subtotal - o.discount + o.delivery + o.tax FROM orders o
                LEFT JOIN (SELECT order_id, SUM(line_total) AS lines_total FROM order_items GROUP BY order_id) l ON l.order_id = o.id
                WHERE o.subtotal <> COALESCE(l.lines_total, 0) OR o.total <> o.subtotal - o.discount + o.delivery + o.tax
                ORDER BY o.id
                """
            }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> (order: String, problem: String) {
                (row.string(0) ?? "?", "subtotal \(row.string(1) ?? "?") against lines \(row.string(2) ?? "?"), "
                    + "total \(row.string(3) ?? "?") against \(row.string(4) ?? "?")")
            }
        }
    }
}
