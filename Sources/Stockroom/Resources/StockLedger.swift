import MariaDB

/// Every change of a product's stock, appended in the transaction that makes it. The ledger is
/// the one writer of stock: its trigger (sql/005, `stock_ledger_apply`) adds each row's delta to
/// `products.stock`, so stock always equals the sum of its ledger. An order's lines reach it
/// through the `order_items` trigger, inside the order's one INSERT.
enum StockLedger {
    enum Reason: String {
        case created
        case adminSet = "admin_set"
        case restock
        case order
        case cancel
    }

    static func append(_ connection: MariaDBConnection, productID: Int64, delta: Int64, reason: Reason,
                       orderID: Int64? = nil, at time: Timestamp) throws {
        try append(connection, changes: [(productID, delta)], reason: reason, orderID: orderID, at: time)
    }

    /// One multi-row INSERT for all `changes` (product id, delta).
    static func append(_ connection: MariaDBConnection, changes: [(Int64, Int64)], reason: Reason,
                       orderID: Int64? = nil, at time: Timestamp) throws {
        guard !changes.isEmpty else { return }
        let order: MariaDBValue = orderID.map { .int($0) } ?? .null
        try connection.query(
            "INSERT INTO stock_ledger (product_id, delta, reason, order_id, created_at) VALUES \(rowPlaceholders(5, changes.count))",
            changes.flatMap { [.int($0.0), .int($0.1), .string(reason.rawValue), order, .string(time.databaseText)] })
    }
}
