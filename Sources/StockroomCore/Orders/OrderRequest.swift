import Crypto

/// What a buyer asks for: lines sorted by product id (the order the rows are locked in), each
/// product at most once. Prices are never the buyer's: the store reads them under the row lock.
public struct OrderRequest: Equatable, Sendable {
    public struct Line: Equatable, Sendable {
        public let productID: Int64
        public let quantity: Int64

        public init(productID: Int64, quantity: Int64) {
            self.productID = productID
            self.quantity = quantity
        }
    }

    public static let maximumLines = 50
    public static let quantityRange: ClosedRange<Int64> = 1...1000

    public let lines: [Line]
    /// The code the buyer asks for, as sent (codes match without regard to case).
    public let promoCode: String?

    public init(lines: [Line], promoCode: String? = nil) {
        self.lines = lines.sorted { $0.productID < $1.productID }
        self.promoCode = promoCode
    }

    /// SHA-256 of the normalised request (sorted lines), for Idempotency-Key reuse detection: the
    /// short form and the items form of one line, or the same lines in another order, are one request.
    public var fingerprint: [UInt8] {
        var text = lines.map { "\($0.productID)x\($0.quantity)" }.joined(separator: ",")
        if let promoCode { text += " promo:" + promoCode.uppercased() }
        return Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// A checkout's Idempotency-Key fingerprint: a checkout has no body, so every checkout is the
    /// same request, and a key first used for a direct order is a different one.
    public static let checkoutFingerprint: [UInt8] = Array(SHA256.hash(data: Array("checkout".utf8)))
}
