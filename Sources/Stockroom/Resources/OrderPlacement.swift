import Glibc
import MariaDB

/// The order transaction. Everything that needs no lock happens before the first one: validation,
/// the idempotency check, and the order row (its total is the sum of its lines). Then the product
/// rows are locked in ascending id order with one SELECT ... FOR UPDATE and checked; one multi-row
/// INSERT writes the lines, whose trigger appends the ledger rows, whose trigger takes the stock
/// (sql/005: the ledger is the one writer of stock); COMMIT.
/// Three round trips hold the locks.
enum OrderPlacement {
    /// Who is buying. Without an Idempotency-Key the session is checked by the order row's own
    /// INSERT ... SELECT FROM sessions (one round trip fewer per order); with a key the user must be
    /// known first, for the key lookup.
    enum Buyer {
        case user(User)
        case session(tokenHash: [UInt8])
    }

    struct Outcome {
        let order: Order
        let replayed: Bool
    }

    /// A committed order and when (monotonic ns) its first lock was requested and granted.
    private struct Placed {
        let order: Order
        let lockRequestedAt: Int64
        let lockedAt: Int64
    }

    static func place(_ request: OrderRequest, idempotencyKey: String?, buyer: Buyer, context: RequestContext) throws -> Outcome {
        let database = context.database
        if let key = idempotencyKey, case .user(let user) = buyer,
           let stored = try storedOrder(key: key, request: request, user: user, database: database) {
            return Outcome(order: stored, replayed: true)
        }
        let now = Timestamp.now()
        do {
            let lockDelay = context.testLockDelayMicroseconds
            let placed = try database.transaction { connection in
                try insert(request, idempotencyKey: idempotencyKey, buyer: buyer, at: now, lockDelay: lockDelay, connection)
            }
            // Waiting for the rows, then holding them to the end of COMMIT (what other buyers wait on).
            context.application.metrics.orderPlaced(
                lockWaitNanoseconds: placed.lockedAt - placed.lockRequestedAt,
                lockHeldNanoseconds: RequestHandler.monotonicNanoseconds() - placed.lockedAt)
            return Outcome(order: placed.order, replayed: false)
        } catch let error as MariaDBError where error.code == .duplicateKey && idempotencyKey != nil {
            // A concurrent request with this key committed first: we waited on its key row; replay it.
            guard case .user(let user) = buyer,
                  let stored = try storedOrder(key: idempotencyKey!, request: request, user: user, database: database) else {
                throw error
            }
            return Outcome(order: stored, replayed: true)
        } catch let error as HTTPError where error.code == "insufficient_stock" {
            context.application.metrics.stockConflict()
            throw error
        }
    }

    /// The order stored under `key` for this user, nil if none; 422 when the key was used for another body.
    private static func storedOrder(key: String, request: OrderRequest, user: User, database: MariaDBSession) throws -> Order? {
        let row = try database.read { connection in
            try connection.query("SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = ? AND idempotency_key = ?",
                                 [.int(user.id), .string(key)]).first
        }
        guard let row, let hash = row.bytes(0), let orderID = row.int(1) else { return nil }
        guard hash == request.fingerprint else {
            throw HTTPError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request body.")
        }
        return try OrderStore.find(id: orderID, database: database)
    }

    private static func insert(_ request: OrderRequest, idempotencyKey: String?, buyer: Buyer, at now: Timestamp,
                               lockDelay: UInt32?, _ connection: MariaDBConnection) throws -> Placed {
        let orderID: Int64
        let userID: Int64
        switch buyer {
        case .user(let user):
            userID = user.id
            orderID = Int64(try connection.query(
                "INSERT INTO orders (user_id, status, created_at, updated_at) VALUES (?, 'pending', ?, ?)",
                [.int(user.id), .string(now.databaseText), .string(now.databaseText)]).lastInsertID)
        case .session(let tokenHash):
            // The session check and the order row in one statement: no row means no valid session.
            guard let row = try connection.query(
                "INSERT INTO orders (user_id, status, created_at, updated_at) "
                    + "SELECT s.user_id, 'pending', ?, ? FROM sessions s WHERE s.token_hash = ? AND s.expires_at > ? "
                    + "RETURNING id, user_id",
                [.string(now.databaseText), .string(now.databaseText), .bytes(tokenHash), .string(now.databaseText)]).first,
                  let id = row.int(0), let user = row.int(1) else {
                throw HTTPError.unauthorized
            }
            orderID = id
            userID = user
        }
        if let key = idempotencyKey {
            // A racing request with the same key blocks here, before taking any product lock.
            try connection.query(
                "INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, order_id, created_at) VALUES (?, ?, ?, ?, ?)",
                [.int(userID), .string(key), .bytes(request.fingerprint), .int(orderID), .string(now.databaseText)])
        }
        let ids = paddedForStatementShape(request.lines.map(\.productID))
        let lockRequestedAt = RequestHandler.monotonicNanoseconds()
        // First lock: rows in ascending id order (the IN list is sorted; InnoDB scans the primary key).
        let rows = try connection.query(
            "SELECT id, name, price, stock FROM products WHERE id IN (\(placeholders(ids.count))) AND deleted_at IS NULL ORDER BY id FOR UPDATE",
            ids.map { .int($0) }).rows
        // From here to the end of COMMIT the rows are ours: that is the hold time other buyers wait on.
        let lockedAt = RequestHandler.monotonicNanoseconds()

        if let lockDelay { usleep(lockDelay) }  // test hook: a crash or stop while the rows are locked
        var products: [Int64: (name: String, price: Money, stock: Int64)] = [:]
        for row in rows {
            guard let id = row.int(0), let name = row.string(1), let price = row.string(2).flatMap(Money.init(decimalText:)),
                  let stock = row.int(3) else { throw HTTPError.internalError }
            products[id] = (name, price, stock)
        }
        var lines: [Order.Line] = []
        var total: Int64 = 0
        // A missing product is reported before any shortage: the order names something that is not for sale.
        if let missing = request.lines.first(where: { products[$0.productID] == nil }) {
            throw HTTPError(404, "product_not_found", "Product \(missing.productID) does not exist.",
                            extra: [("product_id", .number(String(missing.productID)))])
        }
        for line in request.lines {
            let product = products[line.productID]!
            guard product.stock >= line.quantity else {
                throw HTTPError(409, "insufficient_stock", "Not enough stock for product \(line.productID).",
                                extra: [("product_id", .number(String(line.productID))), ("available", .number(String(product.stock)))])
            }
            guard let lineTotal = product.price.multiplied(by: line.quantity), lineTotal <= Order.maximumAmount else {
                throw HTTPError.validation("items", "A line total would exceed \(Order.maximumAmount).")
            }
            total += lineTotal.cents
            lines.append(Order.Line(productID: line.productID, name: product.name, quantity: line.quantity,
                                    unitPrice: product.price, lineTotal: lineTotal))
        }
        guard total <= Order.maximumAmount.cents else {
            throw HTTPError.validation("items", "The order total would exceed \(Order.maximumAmount).")
        }
        // One statement: the lines, and through the triggers of sql/005 the ledger rows and the
        // stock they take, while the rows are still locked.
        try connection.query(
            "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price, line_total) VALUES \(rowPlaceholders(6, lines.count))",
            lines.flatMap { [.int(orderID), .int($0.productID), .string($0.name), .int($0.quantity),
                             .string($0.unitPrice.description), .string($0.lineTotal.description)] })
        return Placed(order: Order(id: orderID, userID: userID, status: .pending, lines: lines, createdAt: now, updatedAt: now),
                      lockRequestedAt: lockRequestedAt, lockedAt: lockedAt)
    }
}

/// `ids` repeated at the end up to the next power of two: `IN (?, ...)` lists then come in a
/// few shapes (1, 2, 4 ... 64), each prepared once per connection, instead of one per count.
func paddedForStatementShape<T>(_ values: [T]) -> [T] {
    guard let last = values.last else { return values }
    var size = 1
    while size < values.count { size <<= 1 }
    guard size > values.count else { return values }  // no copy on the hot path (one-line orders)
    return values + Array(repeating: last, count: size - values.count)
}

/// `?, ?, ?` — the number of placeholders follows the number of lines; values are always bound.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}

/// `(?, ?), (?, ?)` for a multi-row INSERT.
func rowPlaceholders(_ columns: Int, _ rows: Int) -> String {
    Array(repeating: "(\(placeholders(columns)))", count: rows).joined(separator: ", ")
}
