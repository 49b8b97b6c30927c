import MariaDB

/// Checkout: the cart becomes an order in one transaction. The cart row is locked first and its
/// lines read inside that lock (never from a snapshot taken before it); then the order row (and
/// the key) and the same locked, priced steps as a direct order with the cart's code; the cart is
/// emptied after the products are locked (so checkout never holds a cart line while it waits for
/// a product) and before the code's row is (so that row, shared by every order with the code, is
/// held as briefly as can be). Any failure rolls all of it back: cart, stock and code stay as they were.
extension OrderStore {
    public func checkout(userID: Int64, idempotencyKey: String?, lockDelayMicroseconds: UInt32? = nil) throws -> Placement {
        let fingerprint = OrderRequest.checkoutFingerprint
        if let key = idempotencyKey, let stored = try storedOrder(key: key, fingerprint: fingerprint, userID: userID) {
            return .replay(stored)
        }
        let now = Timestamp.now()
        let times = LockTimes(delayMicroseconds: lockDelayMicroseconds)
        do {
            let order = try database.transaction { connection in
                // A second checkout of this cart waits here, then finds it empty (or replays its key).
                guard let cartCode = try connection.first(CartStore.Statements.LockExisting(userID: userID)) else {
                    throw StoreError.cartEmpty
                }
                let orderID = Int64(try connection.execute(Statements.InsertOrder(userID: userID, at: now)).lastInsertID)
                if let key = idempotencyKey {
                    try insertKey(key, fingerprint: fingerprint, userID: userID, orderID: orderID, at: now, connection)
                }
                let lines = try connection.rows(CartStore.Statements.Lines(userID: userID))
                guard !lines.isEmpty else { throw StoreError.cartEmpty }
                return try write(lines, orderID: orderID, userID: userID, promoCode: cartCode.map { .id($0) },
                                 at: now, times: times, connection) { connection in
                    try connection.execute(CartStore.Statements.DeleteLines(userID: userID))
                    try connection.execute(CartStore.Statements.SetPromoCode(userID: userID, promoCodeID: nil))
                }
            }
            return times.placement(order)
        } catch let error as MariaDBError where error.code == .duplicateKey && idempotencyKey != nil {
            guard let key = idempotencyKey, let stored = try storedOrder(key: key, fingerprint: fingerprint, userID: userID) else {
                throw error
            }
            return .replay(stored)
        }
    }
}
