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
            ("items", .array(lines.map { line in
                .object([
                    ("product_id", .number(String(line.productID))), ("name", .string(line.name)),
                    ("quantity", .number(String(line.quantity))), ("unit_price", .number(line.unitPrice.description)),
                    ("line_total", .number(line.lineTotal.description)),
                ])
            })),
            ("total", .number(total.description)), ("created_at", .string(createdAt.rfc3339)),
            ("updated_at", .string(updatedAt.rfc3339)),
        ])
    }
}

extension ProductColumns {
    /// Writes the product straight from the row's bytes (the read paths' fast way to the same JSON
    /// as `Product.json`).
    func writeJSON(into writer: inout JSONWriter) {
        writer.writeRaw("{\"id\":")
        writer.writeRaw(id)
        writer.writeRaw(",\"name\":")
        writer.writeString(utf8: name)
        writer.writeRaw(",\"price\":")
        writer.writeRaw(price)
        writer.writeRaw(",\"stock\":")
        writer.writeRaw(stock)
        writer.writeRaw(",\"created_at\":")
        Self.writeTimestamp(createdAt, into: &writer)
        writer.writeRaw(",\"updated_at\":")
        Self.writeTimestamp(updatedAt, into: &writer)
        writer.writeRaw("}")
    }

    /// `2026-01-09 14:06:33` (UTC, from the database) as `"2026-01-09T14:06:33Z"`.
    private static func writeTimestamp(_ text: ArraySlice<UInt8>, into writer: inout JSONWriter) {
        let start = text.startIndex
        writer.writeRaw("\"")
        writer.writeRaw(text[start..<start + 10])
        writer.writeRaw("T")
        writer.writeRaw(text[start + 11..<start + 19])
        writer.writeRaw("Z\"")
    }
}
