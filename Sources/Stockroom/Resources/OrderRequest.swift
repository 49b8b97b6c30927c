import Crypto

/// A validated POST /api/v1/orders body: the items form or the one-item short form, lines sorted by
/// product id (the order rows are locked in), each product at most once. Prices are never taken
/// from the client: a price field is an unknown field (422).
struct OrderRequest: Equatable {
    struct Line: Equatable {
        let productID: Int64
        let quantity: Int64
    }

    static let maximumLines = 50
    static let quantityRange: ClosedRange<Int64> = 1...1000

    let lines: [Line]

    init(lines: [Line]) { self.lines = lines.sorted { $0.productID < $1.productID } }

    init(body: ObjectReader) throws {
        var lines: [Line] = []
        // A product id too large for any row: reported as not found once the whole body is valid.
        var unrepresentableID: String?
        func line(from item: ObjectReader) throws -> Line? {
            let productID = try item.identifier("product_id")
            let quantity = try item.integer("quantity", in: Self.quantityRange)
            guard let productID else {
                if unrepresentableID == nil, case .number(let literal)? = item.value("product_id") { unrepresentableID = literal }
                return nil
            }
            return Line(productID: productID, quantity: quantity)
        }
        if body.has("items") {
            if body.has("product_id") || body.has("quantity") {
                throw HTTPError.validation("items", "Send either 'items' or 'product_id' and 'quantity', not both.")
            }
            guard case .array(let elements)? = body.value("items") else {
                throw HTTPError.validation("items", "'items' must be an array of {product_id, quantity}.")
            }
            guard (1...Self.maximumLines).contains(elements.count) else {
                throw HTTPError.validation("items", "An order has 1 to \(Self.maximumLines) items.")
            }
            for (index, element) in elements.enumerated() {
                guard case .object(let members) = element else {
                    throw HTTPError.validation("items[\(index)]", "Each item must be an object {product_id, quantity}.")
                }
                let item = try ObjectReader(members: members, prefix: "items[\(index)].", allowed: ["product_id", "quantity"])
                if let line = try line(from: item) { lines.append(line) }
            }
        } else if let line = try line(from: body) {
            lines.append(line)
        }
        var seen = Set<Int64>()
        for line in lines where !seen.insert(line.productID).inserted {
            throw HTTPError.validation("items", "Product \(line.productID) appears more than once; give it one line.")
        }
        if let literal = unrepresentableID {
            // The client's own literal, echoed only while it is short.
            throw HTTPError(404, "product_not_found", "The product does not exist.",
                            extra: literal.utf8.count <= 64 ? [("product_id", .number(literal))] : [])
        }
        self.init(lines: lines)
    }

    /// SHA-256 of the normalised request (sorted lines), for Idempotency-Key reuse detection: the
    /// short form and the items form of one line, or the same lines in another order, are one request.
    var fingerprint: [UInt8] {
        let text = lines.map { "\($0.productID)x\($0.quantity)" }.joined(separator: ",")
        return Array(SHA256.hash(data: Array(text.utf8)))
    }

    /// Idempotency-Key: 1..255 visible ASCII characters.
    static func validatedIdempotencyKey(_ header: String?) throws -> String? {
        guard let header else { return nil }
        let bytes = header.utf8
        guard (1...255).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw HTTPError.validation("Idempotency-Key", "Idempotency-Key must be 1 to 255 visible ASCII characters.")
        }
        return header
    }
}
