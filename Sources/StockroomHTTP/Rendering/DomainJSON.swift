import StockroomCore

/// The API's JSON for the domain's values: the contract's field names, money as exact numbers,
/// times in RFC 3339.
extension User {
    var json: JSONValue {
        .object([
            ("id", .number(String(id))), ("username", .string(username)),
            ("role", .string(role.rawValue)), ("created_at", .string(createdAt.rfc3339)),
        ])
    }
}

extension Product {
    var json: JSONValue {
        .object([
            ("id", .number(String(id))), ("name", .string(name)), ("price", .number(price.description)),
            ("stock", .number(String(stock))), ("created_at", .string(createdAt.rfc3339)),
            ("updated_at", .string(updatedAt.rfc3339)),
        ])
    }
}

extension Order {
    var json: JSONValue {
        .object([
            ("id", .number(String(id))), ("user_id", .number(String(userID))), ("status", .string(status.rawValue)),
            ("items", .array(lines.map(\.json))),
        ] + pricing.jsonMembers + [
            ("promo_code", promoCode.map { .string($0) } ?? .null),
            ("created_at", .string(createdAt.rfc3339)), ("updated_at", .string(updatedAt.rfc3339)),
        ])
    }
}

extension PricedLine {
    var json: JSONValue {
        .object([
            ("product_id", .number(String(productID))), ("name", .string(name)),
            ("quantity", .number(String(quantity))), ("unit_price", .number(unitPrice.description)),
            ("line_total", .number(lineTotal.description)),
        ])
    }
}

extension Pricing {
    var jsonMembers: [(key: String, value: JSONValue)] {
        [("subtotal", .number(subtotal.description)), ("discount", .number(discount.description)),
         ("delivery", .number(delivery.description)), ("tax", .number(tax.description)), ("total", .number(total.description))]
    }
}

extension Cart {
    var json: JSONValue {
        .object([
            ("items", .array(lines.map(\.json))),
            ("promo_code", promoCode.map { .string($0) } ?? .null), ("promo_code_applies", .bool(promoCodeApplies)),
        ] + pricing.jsonMembers + [
            ("updated_at", updatedAt.map { .string($0.rfc3339) } ?? .null),
        ])
    }
}

extension PromoCode {
    func json(at now: Timestamp) -> JSONValue {
        let (kind, value): (String, Money) = switch fields.discount {
        case .percent(let basisPoints): ("percent", Money(cents: basisPoints))
        case .amount(let amount): ("amount", amount)
        }
        func limit(_ value: Int64?) -> JSONValue { value.map { .number(String($0)) } ?? .null }
        func time(_ value: Timestamp?) -> JSONValue { value.map { .string($0.rfc3339) } ?? .null }
        return .object([
            ("id", .number(String(id))), ("code", .string(fields.code)), ("kind", .string(kind)),
            ("value", .number(value.description)), ("min_subtotal", .number(fields.minSubtotal.description)),
            ("max_redemptions", limit(fields.maxRedemptions)), ("max_per_user", limit(fields.maxPerUser)),
            ("starts_at", time(fields.startsAt)), ("ends_at", time(fields.endsAt)), ("active", .bool(isActive(at: now))),
            ("redemptions", .number(String(redemptions))), ("created_at", .string(createdAt.rfc3339)),
            ("updated_at", .string(updatedAt.rfc3339)),
        ])
    }
}

extension PricingPolicy {
    var json: JSONValue {
        .object([
            ("tax_rate", .number(taxRateText)), ("delivery_fee", .number(deliveryFee.description)),
            ("free_delivery_from", freeDeliveryFrom.map { .number($0.description) } ?? .null),
        ])
    }
}

extension ProductColumns {
    /// Writes the product straight from the row's bytes (the read paths' fast way to the same JSON
    /// as `Product.json`), in one append.
    func writeJSON(into writer: inout JSONWriter) {
        // 61 bytes of names and punctuation and 2 x 22 of timestamps, then the columns.
        let maximumCount = 105 + id.count + price.count + stock.count + JSONWriter.Cursor.maximumStringCount(name.count)
        writer.writeRaw(upTo: maximumCount) { out in
            out.writeRaw("{\"id\":")
            out.writeRaw(id)
            out.writeRaw(",\"name\":")
            out.writeString(utf8: name)
            out.writeRaw(",\"price\":")
            out.writeRaw(price)
            out.writeRaw(",\"stock\":")
            out.writeRaw(stock)
            out.writeRaw(",\"created_at\":")
            Self.writeTimestamp(createdAt, into: &out)
            out.writeRaw(",\"updated_at\":")
            Self.writeTimestamp(updatedAt, into: &out)
            out.writeRaw("}")
        }
    }

    /// `2026-01-09 14:06:33` (UTC, from the database) as `"2026-01-09T14:06:33Z"`.
    private static func writeTimestamp(_ text: ArraySlice<UInt8>, into out: inout JSONWriter.Cursor) {
        let start = text.startIndex
        out.writeByte(UInt8(ascii: "\""))
        out.writeRaw(text[start..<start + 10])
        out.writeByte(UInt8(ascii: "T"))
        out.writeRaw(text[start + 11..<start + 19])
        out.writeRaw("Z\"")
    }
}
