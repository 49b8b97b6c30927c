import StockroomCore

/// The request bodies and headers of the write endpoints, validated into the Core's values with
/// the contract's 422s (the field named by its full path).
extension OrderRequest {
    /// A POST /api/v1/orders body: the items form or the one-item short form. A price field is an
    /// unknown field (422): prices are never taken from the client.
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
        // Optional, but when sent it is a string (null too is a 422, as the decisions say).
        let promoCode = body.has("promo_code") ? try body.string("promo_code") : nil
        var seen = Set<Int64>()
        for line in lines where !seen.insert(line.productID).inserted {
            throw HTTPError.validation("items", "Product \(line.productID) appears more than once; give it one line.")
        }
        if let literal = unrepresentableID {
            // The client's own literal, echoed only while it is short.
            throw HTTPError(404, "product_not_found", "The product does not exist.",
                            extra: literal.utf8.count <= 64 ? [("product_id", .number(literal))] : [])
        }
        self.init(lines: lines, promoCode: promoCode)
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

extension Product.Fields {
    /// The body of POST and PUT: all three fields, validated.
    init(body: ObjectReader) throws {
        self.init(name: try Self.validatedName(body), price: try body.money("price"),
                  stock: try body.integer("stock", in: 0...Product.maximumStock))
    }

    /// name 1..255 characters, not only white space.
    private static func validatedName(_ body: ObjectReader) throws -> String {
        let name = try body.string("name")
        guard Product.nameLengths.contains(name.unicodeScalars.count) else {
            throw HTTPError.validation("name", "name must be 1 to 255 characters.")
        }
        guard name.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw HTTPError.validation("name", "name must not be only spaces.")
        }
        return name
    }
}

/// POST /api/v1/cart/items and PUT /api/v1/cart/items/{id}.
struct CartLineRequest {
    let productID: Int64
    let quantity: Int64

    /// `{"product_id", "quantity"}`; a product id beyond Int64 names no product (404).
    static func adding(_ body: ObjectReader) throws -> CartLineRequest {
        let productID = try body.identifier("product_id")
        let quantity = try body.integer("quantity", in: Cart.quantityRange)
        guard let productID else {
            var extra: [(key: String, value: JSONValue)] = []
            if case .number(let literal)? = body.value("product_id"), literal.utf8.count <= 64 { extra = [("product_id", .number(literal))] }
            throw HTTPError(404, "product_not_found", "The product does not exist.", extra: extra)
        }
        return CartLineRequest(productID: productID, quantity: quantity)
    }
}

extension PromoCode.Fields {
    /// The body of POST and PUT /api/v1/promo-codes.
    init(body: ObjectReader) throws {
        let code = try body.string("code")
        guard PromoCode.isValidCode(code) else {
            throw HTTPError.validation("code", "code must be 3 to 32 characters of A-Z, a-z, 0-9, '_', '-'.")
        }
        let kind = try body.string("kind")
        let discount: PromoCode.Discount
        switch kind {
        case "percent":
            let value = try body.money("value")
            guard value.cents >= 1, value.cents <= 10_000 else {
                throw HTTPError.validation("value", "A percent code's value is 0.01 to 100.00.")
            }
            discount = .percent(basisPoints: value.cents)
        case "amount":
            let value = try body.money("value")
            guard value.cents >= 1 else { throw HTTPError.validation("value", "An amount code's value is above 0.") }
            discount = .amount(value)
        default:
            throw HTTPError.validation("kind", "kind must be \"percent\" or \"amount\".")
        }
        let minSubtotal = try body.optional("min_subtotal") { try body.money("min_subtotal") } ?? .zero
        let maxRedemptions = try body.optional("max_redemptions") { try body.integer("max_redemptions", in: PromoCode.limitRange) }
        let maxPerUser = try body.optional("max_per_user") { try body.integer("max_per_user", in: PromoCode.limitRange) }
        let startsAt = try body.optional("starts_at") { try Self.time(body, "starts_at") }
        let endsAt = try body.optional("ends_at") { try Self.time(body, "ends_at") }
        if let startsAt, let endsAt, endsAt <= startsAt {
            throw HTTPError.validation("ends_at", "ends_at must be after starts_at.")
        }
        self.init(code: code, discount: discount, minSubtotal: minSubtotal, maxRedemptions: maxRedemptions,
                  maxPerUser: maxPerUser, startsAt: startsAt, endsAt: endsAt)
    }

    private static func time(_ body: ObjectReader, _ name: String) throws -> Timestamp {
        guard let time = Timestamp(rfc3339: try body.string(name)) else {
            throw HTTPError.validation(name, "'\(name)' must be an RFC 3339 date and time, e.g. 2026-12-24T00:00:00Z.")
        }
        return time
    }
}

extension ObjectReader {
    /// `read()` of a field that may be missing or null (then nil).
    func optional<T>(_ name: String, _ read: () throws -> T) throws -> T? {
        guard let value = value(name), value != .null else { return nil }
        return try read()
    }
}
