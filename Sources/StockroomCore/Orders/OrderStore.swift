import MariaDB

/// Orders in the database: placing one (`OrderStore+Placement`), reading them with their lines,
/// and cancelling, which gives the stock back through the `StockLedger`.
public struct OrderStore {
    let database: MariaDBSession
    let pricingPolicy: PricingPolicy

    public init(_ database: MariaDBSession, pricing: PricingPolicy = PricingPolicy()) {
        self.database = database
        self.pricingPolicy = pricing
    }

    public func find(id: Int64) throws -> Order? {
        try Self.group(try database.read { try $0.rows(Statements.WithLines(id: id)) }).first
    }

    /// A page of orders by ascending id after `after`: the user's own, or everyone's when `userID` is nil.
    public func page(after: Int64, limit: Int64, userID: Int64?) throws -> [Order] {
        try Self.group(try database.read { connection in
            if let userID { return try connection.rows(Statements.PageOfUser(userID: userID, after: after, limit: limit)) }
            return try connection.rows(Statements.Page(after: after, limit: limit))
        })
    }

    /// Sets `cancelled` and gives the stock back under the products' row locks, in one transaction.
    /// The order row is locked first, so of two racing cancels the second sees `cancelled`. Someone
    /// else's order is not found, unless `by` is an admin.
    public func cancel(id: Int64, by user: User) throws -> Order {
        let now = Timestamp.now()
        do {
            try database.transaction { connection in
                guard let order = try connection.first(Statements.LockOrder(id: id)),
                      order.userID == user.id || user.isAdmin else { throw StoreError.orderNotFound }
                guard order.status != .cancelled else { throw StoreError.orderAlreadyCancelled }
                let lines = try connection.rows(Statements.Quantities(orderID: id))
                // The product rows are locked first, in ascending id order as an order locks them: a
                // ledger row's foreign key would otherwise take a shared lock on its product before the
                // ledger trigger's UPDATE asks for the exclusive one, and two cancels of the same
                // product would deadlock on that upgrade. Then the ledger rows give the stock back.
                try connection.execute(Statements.LockProducts(ids: lines.map(\.productID)))
                try StockLedger.append(connection, changes: lines.map { ($0.productID, $0.quantity) },
                                       reason: .cancel, orderID: id, at: now)
                try connection.execute(Statements.MarkCancelled(id: id, at: now))
            }
        } catch let error as MariaDBError where error.code == .checkConstraintViolated {
            throw StoreError.cancelAboveMaximumStock
        }
        guard let order = try find(id: id) else { throw StoreError.orderNotFound }
        return order
    }

    /// Joined rows (ordered by order id, then product id) grouped into orders.
    static func group(_ rows: [(order: Statements.OrderHeader, line: Order.Line)]) -> [Order] {
        var orders: [Order] = []
        for (header, line) in rows {
            if orders.last?.id == header.id {
                orders[orders.count - 1].lines.append(line)
            } else {
                orders.append(Order(id: header.id, userID: header.userID, status: header.status, lines: [line],
                                    pricing: header.pricing, promoCode: header.promoCode,
                                    createdAt: header.createdAt, updatedAt: header.updatedAt))
            }
        }
        return orders
    }
}
