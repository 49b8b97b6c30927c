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
        let count = try connection.query("SELECT COUNT(*) FROM products").first?.int(0) ?? 0
        var mismatches: [String] = []
        for row in try connection.query("""
            SELECT p.id, p.stock, COALESCE(l.total, 0) FROM products p
            LEFT JOIN (SELECT product_id, SUM(delta) AS total FROM stock_ledger GROUP BY product_id) l ON l.product_id = p.id
            WHERE p.stock <> COALESCE(l.total, 0) ORDER BY p.id
            """).rows {
            mismatches.append("product \(row.string(0) ?? "?"): stock \(row.string(1) ?? "?") but ledger sums to \(row.string(2) ?? "?")")
        }
        for row in try connection.query("""
            SELECT p.id, COALESCE(o.quantity, 0), COALESCE(l.taken, 0) FROM products p
            LEFT JOIN (SELECT i.product_id, SUM(i.quantity) AS quantity FROM order_items i
                       JOIN orders o ON o.id = i.order_id WHERE o.status <> 'cancelled' GROUP BY i.product_id) o
              ON o.product_id = p.id
            LEFT JOIN (SELECT product_id, -SUM(delta) AS taken FROM stock_ledger WHERE reason IN ('order', 'cancel')
                       GROUP BY product_id) l ON l.product_id = p.id
            WHERE COALESCE(o.quantity, 0) <> COALESCE(l.taken, 0) ORDER BY p.id
            """).rows {
            mismatches.append("product \(row.string(0) ?? "?"): non-cancelled orders hold \(row.string(1) ?? "?") but the ledger took \(row.string(2) ?? "?")")
        }
        return Report(productCount: Int(count), mismatches: mismatches)
    }
}
