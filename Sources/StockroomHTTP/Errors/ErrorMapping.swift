import Logging
import MariaDB
import StockroomCore

/// The one place where any error becomes an HTTP answer. Unknown errors are logged with their
/// detail and answered as a 500 without it. The database server's message can quote bound
/// values, so it is logged at debug level only.
enum ErrorMapping {
    static let busy = HTTPError(503, "busy", "The store is busy; try again shortly.", headers: [("Retry-After", "1")])

    static func response(for error: any Error, context: RequestContext) -> Response {
        switch error {
        case let error as HTTPError:
            return error.response
        case let error as StoreError:
            if case .insufficientStock = error { context.application.metrics.stockConflict() }
            if case .promoCodeExhausted = error { context.application.metrics.promoCodeExhausted() }
            return httpError(for: error).response
        case let error as MariaDBError:
            return response(for: error, context: context)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return HTTPError.internalError.response
        }
    }

    /// The contract's status, code and fields for each refusal of the store.
    static func httpError(for error: StoreError) -> HTTPError {
        switch error {
        case .productNotFound:
            return HTTPError(404, "product_not_found", "No such product.")
        case .orderedProductNotFound(let id):
            return HTTPError(404, "product_not_found", "Product \(id) does not exist.",
                             extra: [("product_id", .number(String(id)))])
        case .insufficientStock(let productID, let available):
            return HTTPError(409, "insufficient_stock", "Not enough stock for product \(productID).",
                             extra: [("product_id", .number(String(productID))), ("available", .number(String(available)))])
        case .restockAboveMaximum(let quantity):
            return .validation("quantity", "Restocking \(quantity) would take stock above \(Product.maximumStock).")
        case .amountTooLarge(lineTotal: true):
            return .validation("items", "A line total would exceed \(Order.maximumAmount).")
        case .amountTooLarge(lineTotal: false):
            return .validation("items", "The order total would exceed \(Order.maximumAmount).")
        case .orderNotFound:
            return HTTPError(404, "order_not_found", "No such order.")
        case .orderAlreadyCancelled:
            return HTTPError(409, "order_not_cancellable", "This order is already cancelled.")
        case .cancelAboveMaximumStock:
            return HTTPError(409, "order_not_cancellable", "Cancelling would take a product's stock above \(Product.maximumStock).")
        case .usernameTaken:
            return HTTPError(400, "username_taken", "That username is already taken.", extra: [("field", .string("username"))])
        case .sessionInvalid:
            return .unauthorized
        case .idempotencyKeyReused:
            return HTTPError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request body.")
        case .promoCodeNotFound:
            return HTTPError(404, "promo_code_not_found", "No such promo code.")
        case .promoCodeTaken:
            return HTTPError(409, "promo_code_taken", "A promo code with this text already exists.", extra: [("field", .string("code"))])
        case .promoCodeInvalid(atCheckout: false):
            return HTTPError(422, "promo_code_invalid", "No such promo code is valid now.", extra: [("field", .string("code"))])
        case .promoCodeInvalid(atCheckout: true):
            return HTTPError(409, "promo_code_invalid", "The promo code is unknown or not valid now.")
        case .promoCodeExhausted:
            return HTTPError(409, "promo_code_exhausted", "The promo code has no redemption left for you.")
        case .promoCodeNotApplicable:
            return HTTPError(409, "promo_code_not_applicable", "The order does not reach the promo code's minimum subtotal.")
        case .cartEmpty:
            return HTTPError(409, "cart_empty", "The cart is empty.")
        case .cartItemNotFound:
            return HTTPError(404, "cart_item_not_found", "This product is not in the cart.")
        case .cartLineLimit(quantity: true):
            return .validation("quantity", "A cart line holds \(Cart.quantityRange.lowerBound) to \(Cart.quantityRange.upperBound) units.")
        case .cartLineLimit(quantity: false):
            return .validation("product_id", "A cart holds at most \(Cart.maximumLines) lines.")
        }
    }

    private static func response(for error: MariaDBError, context: RequestContext) -> Response {
        context.application.metrics.databaseError(error)
        let logger = context.logger
        let metadata: Logger.Metadata = ["db.error": "\(error.code.rawValue)", "db.sqlstate": "\(error.sqlState)"]
        logger.debug("database error detail", metadata: metadata.merging(["db.message": "\(error.serverMessage)"]) { $1 })
        switch error.kind {
        case .unavailable:
            logger.warning("database unavailable", metadata: metadata)
            return HTTPError.databaseUnavailable.response
        case .conflict:
            logger.notice("transaction gave up after retries", metadata: metadata)
            return busy.response
        case .interrupted:
            logger.warning("statement interrupted by the database server", metadata: metadata)
            return busy.response
        case .statementLimit:
            logger.error("the database server's max_prepared_stmt_count is reached; see docs/deployment.md", metadata: metadata)
            return HTTPError.databaseUnavailable.response
        case .duplicateKey, .other:
            logger.error("database error", metadata: metadata)
            return HTTPError.internalError.response
        }
    }
}
