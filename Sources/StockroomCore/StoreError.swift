/// What the store refuses on purpose: the domain's answers, with no HTTP in them. StockroomHTTP's
/// ErrorMapping turns each into the contract's status and error body.
public enum StoreError: Error, Equatable, Sendable {
    /// A product endpoint's product does not exist (or is deleted).
    case productNotFound
    /// An order names a product that does not exist (or is deleted).
    case orderedProductNotFound(id: Int64)
    case insufficientStock(productID: Int64, available: Int64)
    /// A restock would take stock above `Product.maximumStock`.
    case restockAboveMaximum(quantity: Int64)
    /// A line total or the order total would not fit the money columns.
    case amountTooLarge(lineTotal: Bool)
    case orderNotFound
    case orderAlreadyCancelled
    /// Giving the stock back would take a product above `Product.maximumStock`.
    case cancelAboveMaximumStock
    case usernameTaken
    /// The session behind a bearer token is unknown, expired or revoked.
    case sessionInvalid
    /// An Idempotency-Key came again with another request.
    case idempotencyKeyReused
    case promoCodeNotFound
    /// A live code already has this text (in any letter case).
    case promoCodeTaken
    /// Unknown, deleted, not started or ended. Applying it to a cart is a 422 (`atCheckout`
    /// false); at checkout or with an order it is a conflict with what the cart held.
    case promoCodeInvalid(atCheckout: Bool)
    /// No redemption left, overall or for this user.
    case promoCodeExhausted
    /// The order's subtotal is below the code's minimum.
    case promoCodeNotApplicable
    case cartEmpty
    case cartItemNotFound
    /// A line would exceed 1000 units, or a 51st line would be added.
    case cartLineLimit(quantity: Bool)
}
