import Glibc
import MariaDB

/// The order transaction. Everything that needs no lock happens before the first one: the
/// idempotency check and the order row (its total is the sum of its lines). Then the product rows
/// are locked in ascending id order with one SELECT ... FOR UPDATE and checked; one multi-row
/// INSERT writes the lines, whose trigger appends the ledger rows, whose trigger takes the stock
/// (sql/005: the ledger is the one writer of stock); COMMIT. Three round trips hold the locks.
extension OrderStore {
    /// Who is buying. Without an Idempotency-Key the session is checked by the order row's own
    /// INSERT ... SELECT FROM sessions (one round trip fewer per order); with a key the user must be
    /// known first, for the key lookup.
    public enum Buyer: Sendable {
        case user(User)
        case session(tokenHash: [UInt8])
    }

    public struct Placement: Sendable {
        public let order: Order
        /// The order stored earlier under the same Idempotency-Key, given again.
        public let replayed: Bool
        /// Waiting for the product rows, then holding them to the end of COMMIT (what other buyers
        /// wait on); zero for a replay.
        public let lockWaitNanoseconds: Int64
        public let lockHeldNanoseconds: Int64
    }

    /// Places `request`, or replays the order stored under `idempotencyKey`. `lockDelayMicroseconds`
    /// is a test hook (STOCKROOM_TEST_HOOKS): a sleep while the rows are locked.
    public func place(_ request: OrderRequest, idempotencyKey: String?, buyer: Buyer,
                      lockDelayMicroseconds: UInt32? = nil) throws -> Placement {
        if let key = idempotencyKey, case .user(let user) = buyer,
           let stored = try storedOrder(key: key, request: request, userID: user.id) {
            return Placement(order: stored, replayed: true, lockWaitNanoseconds: 0, lockHeldNanoseconds: 0)
        }
        let now = Timestamp.now()
        do {
            var lockRequestedAt: Int64 = 0
            var lockedAt: Int64 = 0
            let order = try database.transaction { connection in
                try insert(request, idempotencyKey: idempotencyKey, buyer: buyer, at: now, connection: connection) {
                    lockRequestedAt = $0
                    lockedAt = $1
                    if let lockDelayMicroseconds { usleep(lockDelayMicroseconds) }  // test hook
                }
            }
            return Placement(order: order, replayed: false, lockWaitNanoseconds: lockedAt - lockRequestedAt,
                             lockHeldNanoseconds: MonotonicTime.nanoseconds() - lockedAt)
        } catch let error as MariaDBError where error.code == .duplicateKey && idempotencyKey != nil {
            // A concurrent request with this key committed first: we waited on its key row; replay it.
            guard let key = idempotencyKey, case .user(let user) = buyer,
                  let stored = try storedOrder(key: key, request: request, userID: user.id) else {
                throw error
            }
            return Placement(order: stored, replayed: true, lockWaitNanoseconds: 0, lockHeldNanoseconds: 0)
        }
    }

    /// The order stored under `key` for this user, nil if none; `idempotencyKeyReused` when the key
    /// came with another request.
    private func storedOrder(key: String, request: OrderRequest, userID: Int64) throws -> Order? {
        guard let stored = try database.read({ try $0.first(Statements.IdempotencyKey(userID: userID, key: key)) }) else {
            return nil
        }
        guard stored.requestHash == request.fingerprint else { throw StoreError.idempotencyKeyReused }
        return try find(id: stored.orderID)
    }

    /// `locked(requestedAt, grantedAt)` is called once the product rows are held.
    private func insert(_ request: OrderRequest, idempotencyKey: String?, buyer: Buyer, at now: Timestamp,
                        connection: MariaDBConnection, locked: (Int64, Int64) -> Void) throws -> Order {
        let orderID: Int64
        let userID: Int64
        switch buyer {
        case .user(let user):
            userID = user.id
            orderID = Int64(try connection.execute(Statements.InsertOrder(userID: user.id, at: now)).lastInsertID)
        case .session(let tokenHash):
            // The session check and the order row in one statement: no row means no valid session.
            guard let inserted = try connection.first(Statements.InsertOrderForSession(tokenHash: tokenHash, at: now)) else {
                throw StoreError.sessionInvalid
            }
            (orderID, userID) = inserted
        }
        if let key = idempotencyKey {
            // A racing request with the same key blocks here, before taking any product lock.
            try connection.execute(Statements.InsertIdempotencyKey(
                userID: userID, key: key, requestHash: request.fingerprint, orderID: orderID, at: now))
        }
        let lockRequestedAt = MonotonicTime.nanoseconds()
        // First lock: rows in ascending id order (the IN list is sorted; InnoDB scans the primary key).
        let rows = try connection.rows(Statements.LockForSale(ids: request.lines.map(\.productID)))
        // From here to the end of COMMIT the rows are ours: that is the hold time other buyers wait on.
        locked(lockRequestedAt, MonotonicTime.nanoseconds())

        var products: [Int64: Statements.ForSale] = [:]
        for row in rows { products[row.id] = row }
        // A missing product is reported before any shortage: the order names something that is not for sale.
        if let missing = request.lines.first(where: { products[$0.productID] == nil }) {
            throw StoreError.orderedProductNotFound(id: missing.productID)
        }
        var lines: [Order.Line] = []
        var total: Int64 = 0
        for line in request.lines {
            let product = products[line.productID]!
            guard product.stock >= line.quantity else {
                throw StoreError.insufficientStock(productID: line.productID, available: product.stock)
            }
            guard let lineTotal = product.price.multiplied(by: line.quantity), lineTotal <= Order.maximumAmount else {
                throw StoreError.amountTooLarge(lineTotal: true)
            }
            total += lineTotal.cents
            lines.append(Order.Line(productID: line.productID, name: product.name, quantity: line.quantity,
                                    unitPrice: product.price, lineTotal: lineTotal))
        }
        guard total <= Order.maximumAmount.cents else { throw StoreError.amountTooLarge(lineTotal: false) }
        // One statement: the lines, and through the triggers of sql/005 the ledger rows and the
        // stock they take, while the rows are still locked.
        try connection.execute(Statements.InsertLines(orderID: orderID, lines: lines))
        return Order(id: orderID, userID: userID, status: .pending, lines: lines, createdAt: now, updatedAt: now)
    }
}
