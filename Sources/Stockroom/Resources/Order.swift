import MariaDB

/// An order as the API shows it. Lines carry the name and unit price as sold.
struct Order {
    enum Status: String { case pending, processed, cancelled }

    struct Line {
        let productID: Int64
        let name: String
        let quantity: Int64
        let unitPrice: Money
        let lineTotal: Money
    }

    let id: Int64
    let userID: Int64
    var status: Status
    var lines: [Line]
    let createdAt: Timestamp
    var updatedAt: Timestamp

    var total: Money { Money(cents: lines.reduce(0) { $0 + $1.lineTotal.cents }) }

    /// The largest amount a DECIMAL(12,2) column holds.
    static let maximumAmount = Money(cents: 999_999_999_999)

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

    /// Columns of an order row, then of one of its lines, as `OrderStore` selects them.
    static let joinedColumns = """
        o.id, o.user_id, o.status, o.created_at, o.updated_at, \
        i.product_id, i.name, i.quantity, i.unit_price, i.line_total
        """

    /// Groups joined rows (ordered by order id, then product id) into orders.
    static func orders(fromJoined rows: [MariaDBRow]) throws -> [Order] {
        var orders: [Order] = []
        for row in rows {
            guard let id = row.int(0), let userID = row.int(1), let status = row.string(2).flatMap(Status.init(rawValue:)),
                  let created = row.string(3).flatMap(Timestamp.init(databaseText:)),
                  let updated = row.string(4).flatMap(Timestamp.init(databaseText:)),
                  let productID = row.int(5), let name = row.string(6), let quantity = row.int(7),
                  let unitPrice = row.string(8).flatMap(Money.init(decimalText:)),
                  let lineTotal = row.string(9).flatMap(Money.init(decimalText:)) else {
                throw HTTPError.internalError
            }
            let line = Line(productID: productID, name: name, quantity: quantity, unitPrice: unitPrice, lineTotal: lineTotal)
            if orders.last?.id == id {
                orders[orders.count - 1].lines.append(line)
            } else {
                orders.append(Order(id: id, userID: userID, status: status, lines: [line],
                                    createdAt: created, updatedAt: updated))
            }
        }
        return orders
    }
}
