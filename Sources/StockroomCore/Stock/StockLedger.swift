import MariaDB

/// Every change of a product's stock, appended in the transaction that makes it. The ledger is
/// the one writer of stock: its trigger (sql/005, `stock_ledger_apply`) adds each row's delta to
/// `products.stock`, so stock always equals the sum of its ledger. An order's lines reach it
/// through the `order_items` trigger, inside the order's one INSERT (`OrderPlacement`).
public enum StockLedger {
    public enum Reason: String, Sendable {
        case created
        case adminSet = "admin_set"
        case restock
        case order
        case cancel
    }

    /// One multi-row INSERT for all `changes` (product id, delta), inside the caller's transaction,
    /// which holds the products' row locks.
    static func append(_ connection: MariaDBConnection, changes: [(productID: Int64, delta: Int64)], reason: Reason,
                       orderID: Int64? = nil, at time: Timestamp) throws {
        guard !changes.isEmpty else { return }
        try connection.execute(Append(changes: changes, reason: reason, orderID: orderID, at: time))
    }

    struct Append: MariaDBCommand {
        let changes: [(productID: Int64, delta: Int64)]
        let reason: Reason
        let orderID: Int64?
        let at: Timestamp
        var sql: String {
            "INSERT INTO stock_ledger (product_id, delta, reason, order_id, created_at) VALUES "
                + StatementShape.rows(columns: 5, count: changes.count)
        }
        var bindings: [MariaDBValue] {
            let order: MariaDBValue = orderID.map { .int($0) } ?? .null
            return changes.flatMap { [.int($0.productID), .int($0.delta), .string(reason.rawValue), order, .string(at.databaseText)] }
        }
    }
}
