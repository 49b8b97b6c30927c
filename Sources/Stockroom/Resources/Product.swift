import MariaDB

/// A product as the API shows it.
struct Product {
    let id: Int64
    var name: String
    var price: Money
    var stock: Int64
    let createdAt: Timestamp
    var updatedAt: Timestamp

    /// The columns `init(row:)` reads, in order.
    static let columns = "id, name, price, stock, created_at, updated_at"

    init(id: Int64, name: String, price: Money, stock: Int64, createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.name = name
        self.price = price
        self.stock = stock
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    init?(row: MariaDBRow) {
        guard let id = row.int(0), let name = row.string(1), let price = row.string(2).flatMap(Money.init(decimalText:)),
              let stock = row.int(3), let created = row.string(4).flatMap(Timestamp.init(databaseText:)),
              let updated = row.string(5).flatMap(Timestamp.init(databaseText:)) else { return nil }
        self.init(id: id, name: name, price: price, stock: stock, createdAt: created, updatedAt: updated)
    }

    var json: JSONValue {
        .object([
            ("id", .number(String(id))), ("name", .string(name)), ("price", .number(price.description)),
            ("stock", .number(String(stock))), ("created_at", .string(createdAt.rfc3339)),
            ("updated_at", .string(updatedAt.rfc3339)),
        ])
    }

    static let maximumStock: Int64 = 1_000_000_000

    /// Writes a product straight from its row (columns as in `columns`), for the read paths: the
    /// DECIMAL text is already the API's money form and DATETIME text becomes RFC 3339 by two bytes,
    /// so nothing is parsed and re-formatted.
    static func writeJSON(row: MariaDBRow, into writer: inout JSONWriter) throws {
        guard let id = row.slice(0), let name = row.slice(1), let price = row.slice(2), let stock = row.slice(3),
              let created = row.slice(4), let updated = row.slice(5), created.count >= 19, updated.count >= 19 else {
            throw HTTPError.internalError
        }
        writer.writeRaw("{\"id\":")
        writer.writeRaw(id)
        writer.writeRaw(",\"name\":")
        writer.writeString(utf8: name)
        writer.writeRaw(",\"price\":")
        writer.writeRaw(price)
        writer.writeRaw(",\"stock\":")
        writer.writeRaw(stock)
        writer.writeRaw(",\"created_at\":")
        writeTimestamp(created, into: &writer)
        writer.writeRaw(",\"updated_at\":")
        writeTimestamp(updated, into: &writer)
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

    /// The body of POST and PUT: all three fields, validated.
    static func fields(from context: RequestContext) throws -> (name: String, price: Money, stock: Int64) {
        let body = try context.jsonBody(allowed: ["name", "price", "stock"])
        return (try validatedName(body), try body.money("price"), try body.integer("stock", in: 0...maximumStock))
    }

    /// name 1..255 characters, not only white space.
    static func validatedName(_ body: ObjectReader) throws -> String {
        let name = try body.string("name")
        let length = name.unicodeScalars.count
        guard length >= 1, length <= 255 else {
            throw HTTPError.validation("name", "name must be 1 to 255 characters.")
        }
        guard name.unicodeScalars.contains(where: { !$0.properties.isWhitespace }) else {
            throw HTTPError.validation("name", "name must not be only spaces.")
        }
        return name
    }
}
