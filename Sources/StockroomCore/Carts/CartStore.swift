import MariaDB

/// Carts in the database. Every write locks the user's cart row first (creating it on the first
/// write), so one user's concurrent writes run one after another and none is lost; a write that
/// touches a product holds a shared lock on it, so a product delete cannot slip a line in behind
/// it. Checkout is `OrderStore.checkout`.
public struct CartStore {
    private let database: MariaDBSession
    private let pricingPolicy: PricingPolicy

    public init(_ database: MariaDBSession, pricing: PricingPolicy) {
        self.database = database
        self.pricingPolicy = pricing
    }

    /// The cart priced now.
    public func cart(userID: Int64) throws -> Cart {
        let now = Timestamp.now()
        let (header, lines, code) = try database.read { connection in
            let header = try connection.first(Statements.Header(userID: userID))
            let lines = try connection.rows(Statements.PricedLines(userID: userID))
            let code = try header?.promoCodeID.flatMap {
                try PromoCodeStore.use(id: $0, userID: userID, locking: false, connection)
            }
            return (header, lines, code)
        }
        let subtotal = Money(cents: lines.reduce(0) { $0 + $1.lineTotal.cents })
        let applies = code.map { !lines.isEmpty && $0.isValid(at: now) && !$0.isUsedUp && $0.reachesMinimum(subtotal) } ?? false
        let pricing = Pricing.price(subtotal: subtotal, hasLines: !lines.isEmpty,
                                    discount: applies ? code?.fields.discount : nil, policy: pricingPolicy)
        return Cart(lines: lines, promoCode: code?.code, promoCodeApplies: applies, pricing: pricing, updatedAt: header?.updatedAt)
    }

    /// Adds `quantity` to the product's line, creating it.
    public func add(userID: Int64, productID: Int64, quantity: Int64) throws -> Cart {
        try writeLine(userID: userID, productID: productID) { current in current + quantity }
        return try cart(userID: userID)
    }

    /// Sets the product's line to `quantity`, creating it.
    public func set(userID: Int64, productID: Int64, quantity: Int64) throws -> Cart {
        try writeLine(userID: userID, productID: productID) { _ in quantity }
        return try cart(userID: userID)
    }

    /// `cartItemNotFound` when the product has no line.
    public func remove(userID: Int64, productID: Int64) throws -> Cart {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.execute(Statements.Lock(userID: userID, at: now))
            guard try connection.execute(Statements.DeleteLine(userID: userID, productID: productID)).affectedRows == 1 else {
                throw StoreError.cartItemNotFound
            }
        }
        return try cart(userID: userID)
    }

    /// Removes every line and the code.
    public func clear(userID: Int64) throws {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.execute(Statements.Lock(userID: userID, at: now))
            try connection.execute(Statements.DeleteLines(userID: userID))
            try connection.execute(Statements.SetPromoCode(userID: userID, promoCodeID: nil))
        }
    }

    /// Puts the live code with this text on the cart: `promoCodeInvalid` when it is unknown or
    /// outside its dates, `promoCodeExhausted` when no redemption is left for this user. A cart
    /// below its minimum keeps it, not applying.
    public func applyPromoCode(userID: Int64, code text: String) throws -> Cart {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.execute(Statements.Lock(userID: userID, at: now))
            guard let code = try PromoCodeStore.use(code: text, userID: userID, locking: false, connection),
                  code.isValid(at: now) else { throw StoreError.promoCodeInvalid(atCheckout: false) }
            guard !code.isUsedUp else { throw StoreError.promoCodeExhausted }
            try connection.execute(Statements.SetPromoCode(userID: userID, promoCodeID: code.id))
        }
        return try cart(userID: userID)
    }

    public func removePromoCode(userID: Int64) throws -> Cart {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.execute(Statements.Lock(userID: userID, at: now))
            try connection.execute(Statements.SetPromoCode(userID: userID, promoCodeID: nil))
        }
        return try cart(userID: userID)
    }

    /// Under the cart's lock and a shared lock on the product: the line's new quantity from its
    /// current one (0 when absent), checked against the line limits and the stock now.
    private func writeLine(userID: Int64, productID: Int64, quantity: (Int64) -> Int64) throws {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.execute(Statements.Lock(userID: userID, at: now))
            guard let stock = try connection.first(Statements.ProductStock(id: productID)) else {
                throw StoreError.orderedProductNotFound(id: productID)
            }
            let cart = try connection.first(Statements.LineCount(userID: userID, productID: productID)) ?? (0, 0)
            let next = quantity(cart.current)
            guard Cart.quantityRange.contains(next) else { throw StoreError.cartLineLimit(quantity: true) }
            guard cart.current > 0 || cart.lines < Cart.maximumLines else { throw StoreError.cartLineLimit(quantity: false) }
            guard next <= stock else { throw StoreError.insufficientStock(productID: productID, available: stock) }
            try connection.execute(Statements.SetLine(userID: userID, productID: productID, quantity: next))
        }
    }
}
