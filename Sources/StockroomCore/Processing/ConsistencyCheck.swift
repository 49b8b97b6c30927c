import MariaDB

/// `stockroomctl check`: stock equals the sum of each product's ledger, and the quantities of
/// non-cancelled order lines equal what the ledger says orders and cancels took. Read in one
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
        return Report(productCount: Int(count), mismatches: stock + orders)
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
    }
}
