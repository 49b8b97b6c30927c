import MariaDB

/// Every change of a product's stock, appended in the transaction that makes it, so that stock
/// always equals the sum of its ledger.
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
        try connection.query(
            "INSERT INTO stock_ledger (product_id, delta, reason, order_id, created_at) VALUES (?, ?, ?, ?, ?)",
            [.int(productID), .int(delta), .string(reason.rawValue), orderID.map { .int($0) } ?? .null, .string(time.databaseText)])
    }
}
