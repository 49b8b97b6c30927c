import Glibc
import MariaDB

/// The order transaction. Everything that needs no lock happens before the first one: the
/// idempotency check and the order row. Then the product rows are locked in ascending id order
/// with one SELECT ... FOR UPDATE and checked, one multi-row INSERT writes the lines (whose
/// trigger appends the ledger rows, whose trigger takes the stock: sql/005), the promo code's row
/// is locked and checked, one UPDATE prices the order and redeems the code (sql/006's trigger);
/// COMMIT. Checkout (OrderStore+Checkout) runs the same steps on the lines of the cart.
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

        static func replay(_ order: Order) -> Placement {
            Placement(order: order, replayed: true, lockWaitNanoseconds: 0, lockHeldNanoseconds: 0)
        }
    }

    /// When the product locks were asked for and granted, and the test hook's sleep while they
    /// are held (STOCKROOM_TEST_HOOKS).
    final class LockTimes {
        var requestedAt: Int64 = 0
        var grantedAt: Int64 = 0
        let delayMicroseconds: UInt32?

        init(delayMicroseconds: UInt32?) { self.delayMicroseconds = delayMicroseconds }

        func placement(_ order: Order) -> Placement {
            Placement(order: order, replayed: false, lockWaitNanoseconds: grantedAt - requestedAt,
                      lockHeldNanoseconds: MonotonicTime.nanoseconds() - grantedAt)
        }
    }

    /// Places `request`, or replays the order stored under `idempotencyKey`.
    public func place(_ request: OrderRequest, idempotencyKey: String?, buyer: Buyer,
                      lockDelayMicroseconds: UInt32? = nil) throws -> Placement {
        if let key = idempotencyKey, case .user(let user) = buyer,
           let stored = try storedOrder(key: key, fingerprint: request.fingerprint, userID: user.id) {
            return .replay(stored)
        }
        let now = Timestamp.now()
        let times = LockTimes(delayMicroseconds: lockDelayMicroseconds)
        do {
            let order = try database.transaction { connection in
                let (orderID, userID) = try insertOrder(buyer: buyer, at: now, connection)
                if let key = idempotencyKey {
                    try insertKey(key, fingerprint: request.fingerprint, userID: userID, orderID: orderID, at: now, connection)
                }
                let code: PromoCodeChoice? = request.promoCode.map { .text($0) }
                return try write(request.lines, orderID: orderID, userID: userID, promoCode: code, at: now,
                                 times: times, connection)
            }
            return times.placement(order)
        } catch let error as MariaDBError where error.code == .duplicateKey && idempotencyKey != nil {
            // A concurrent request with this key committed first: we waited on its key row; replay it.
            guard let key = idempotencyKey, case .user(let user) = buyer,
                  let stored = try storedOrder(key: key, fingerprint: request.fingerprint, userID: user.id) else {
                throw error
            }
            return .replay(stored)
        }
    }

    /// The order stored under `key` for this user, nil if none; `idempotencyKeyReused` when the key
    /// came with another request.
    func storedOrder(key: String, fingerprint: [UInt8], userID: Int64) throws -> Order? {
        guard let stored = try database.read({ try $0.first(Statements.IdempotencyKey(userID: userID, key: key)) }) else {
            return nil
        }
        guard stored.requestHash == fingerprint else { throw StoreError.idempotencyKeyReused }
        return try find(id: stored.orderID)
    }

    /// The new order row, before any lock: (order id, user id).
    func insertOrder(buyer: Buyer, at now: Timestamp, _ connection: MariaDBConnection) throws -> (Int64, Int64) {
        switch buyer {
        case .user(let user):
            return (Int64(try connection.execute(Statements.InsertOrder(userID: user.id, at: now)).lastInsertID), user.id)
        case .session(let tokenHash):
            // The session check and the order row in one statement: no row means no valid session.
            guard let inserted = try connection.first(Statements.InsertOrderForSession(tokenHash: tokenHash, at: now)) else {
                throw StoreError.sessionInvalid
            }
            return inserted
        }
    }

    /// A racing request with the same key blocks here, before taking any product lock.
    func insertKey(_ key: String, fingerprint: [UInt8], userID: Int64, orderID: Int64, at now: Timestamp,
                   _ connection: MariaDBConnection) throws {
        try connection.execute(Statements.InsertIdempotencyKey(
            userID: userID, key: key, requestHash: fingerprint, orderID: orderID, at: now))
    }

    /// Which code an order asks for: a direct order names it by its text, a checkout by the id its
    /// cart holds.
    enum PromoCodeChoice {
        case text(String)
        case id(Int64)
    }

    /// The order's lines under the product locks, its code under the code's lock, its pricing.
    /// `beforeCodeLock` runs once the lines are written, before the code's row is locked (checkout
    /// empties the cart there): the code's row, which every order with that code waits on, is
    /// held only for the pricing UPDATE and the COMMIT.
    func write(_ requested: [OrderRequest.Line], orderID: Int64, userID: Int64, promoCode choice: PromoCodeChoice?,
               at now: Timestamp, times: LockTimes, _ connection: MariaDBConnection,
               beforeCodeLock: (MariaDBConnection) throws -> Void = { _ in }) throws -> Order {
        times.requestedAt = MonotonicTime.nanoseconds()
        // First lock: rows in ascending id order (the IN list is sorted; InnoDB scans the primary key).
        let rows = try connection.rows(Statements.LockForSale(ids: requested.map(\.productID)))
        // From here to the end of COMMIT the rows are ours: that is the hold time other buyers wait on.
        times.grantedAt = MonotonicTime.nanoseconds()
        if let delay = times.delayMicroseconds { usleep(delay) }  // test hook: a crash or stop while locked

        var products: [Int64: Statements.ForSale] = [:]
        for row in rows { products[row.id] = row }
        // A missing product is reported before any shortage: the order names something that is not for sale.
        if let missing = requested.first(where: { products[$0.productID] == nil }) {
            throw StoreError.orderedProductNotFound(id: missing.productID)
        }
        var lines: [Order.Line] = []
        for line in requested {
            let product = products[line.productID]!
            guard product.stock >= line.quantity else {
                throw StoreError.insufficientStock(productID: line.productID, available: product.stock)
            }
            guard let lineTotal = product.price.multiplied(by: line.quantity), lineTotal <= Order.maximumAmount else {
                throw StoreError.amountTooLarge(lineTotal: true)
            }
            lines.append(PricedLine(productID: line.productID, name: product.name, quantity: line.quantity,
                                    unitPrice: product.price, lineTotal: lineTotal))
        }
        let subtotal = Order.subtotal(of: lines)
        guard subtotal <= Order.maximumAmount else { throw StoreError.amountTooLarge(lineTotal: false) }
        // One statement: the lines, and through the triggers of sql/005 the ledger rows and the
        // stock they take, while the rows are still locked.
        try connection.execute(Statements.InsertLines(orderID: orderID, lines: lines))
        try beforeCodeLock(connection)
        var code: PromoCodeUse?
        if let choice {
            code = try lockedCode(choice, userID: userID, subtotal: subtotal, at: now, connection)
        }
        let pricing = Pricing.price(subtotal: subtotal, hasLines: true, discount: code?.fields.discount, policy: pricingPolicy)
        guard pricing.total <= Order.maximumAmount else { throw StoreError.amountTooLarge(lineTotal: false) }
        try connection.execute(Statements.Price(orderID: orderID, pricing: pricing, promoCode: code.map { ($0.id, $0.code) }))
        return Order(id: orderID, userID: userID, status: .pending, lines: lines, pricing: pricing,
                     promoCode: code?.code, createdAt: now, updatedAt: now)
    }

    /// The code, locked to the end of the transaction, checked against its dates, its limits and
    /// the order's subtotal.
    private func lockedCode(_ choice: PromoCodeChoice, userID: Int64, subtotal: Money, at now: Timestamp,
                            _ connection: MariaDBConnection) throws -> PromoCodeUse {
        let found = switch choice {
        case .text(let text): try PromoCodeStore.use(code: text, userID: userID, locking: true, connection)
        case .id(let id): try PromoCodeStore.use(id: id, userID: userID, locking: true, connection)
        }
        guard let code = found, code.isValid(at: now) else { throw StoreError.promoCodeInvalid(atCheckout: true) }
        guard !code.isUsedUp else { throw StoreError.promoCodeExhausted }
        guard code.reachesMinimum(subtotal) else { throw StoreError.promoCodeNotApplicable }
        return code
    }
}
