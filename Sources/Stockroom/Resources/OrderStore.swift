import MariaDB

/// Reads of orders with their lines (one joined query each).
enum OrderStore {
    static func find(id: Int64, database: MariaDBSession) throws -> Order? {
        let rows = try database.read { connection in
            try connection.query("""
                SELECT \(Order.joinedColumns) FROM orders o JOIN order_items i ON i.order_id = o.id
                WHERE o.id = ? ORDER BY i.product_id
                """, [.int(id)]).rows
        }
        return try Order.orders(fromJoined: rows).first
    }

    /// A page of orders by ascending id: the user's own, or everyone's for `allUsers`.
    static func page(after: Int64, limit: Int64, userID: Int64?, database: MariaDBSession) throws -> [Order] {
        let rows = try database.read { connection -> [MariaDBRow] in
            if let userID {
                return try connection.query("""
                    SELECT \(Order.joinedColumns) FROM (SELECT * FROM orders WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?) o
                    JOIN order_items i ON i.order_id = o.id ORDER BY o.id, i.product_id
                    """, [.int(userID), .int(after), .int(limit)]).rows
            }
            return try connection.query("""
                SELECT \(Order.joinedColumns) FROM (SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?) o
                JOIN order_items i ON i.order_id = o.id ORDER BY o.id, i.product_id
                """, [.int(after), .int(limit)]).rows
        }
        return try Order.orders(fromJoined: rows)
    }
}
