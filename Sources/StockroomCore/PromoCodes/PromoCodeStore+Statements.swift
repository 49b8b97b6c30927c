import MariaDB

extension PromoCodeStore {
    enum Statements {
        static let columns = """
            id, code, kind, value, min_subtotal, max_redemptions, max_per_user, starts_at, ends_at, redemptions, \
            created_at, updated_at
            """

        static func fields(_ row: MariaDBRow, _ statement: Any.Type) throws -> PromoCode.Fields {
            func money(_ index: Int) throws -> Money {
                try row.required(index, of: statement) { $0.string($1).flatMap(Money.init(decimalText:)) }
            }
            func time(_ index: Int) -> Timestamp? { row.string(index).flatMap(Timestamp.init(databaseText:)) }
            let value = try money(3)
            let discount: PromoCode.Discount = try row.requiredString(2, of: statement) == "percent"
                ? .percent(basisPoints: value.cents) : .amount(value)
            return PromoCode.Fields(code: try row.requiredString(1, of: statement), discount: discount,
                                    minSubtotal: try money(4), maxRedemptions: row.int(5), maxPerUser: row.int(6),
                                    startsAt: time(7), endsAt: time(8))
        }

        static func code(_ row: MariaDBRow, _ statement: Any.Type) throws -> PromoCode {
            func time(_ index: Int) throws -> Timestamp {
                try row.required(index, of: statement) { $0.string($1).flatMap(Timestamp.init(databaseText:)) }
            }
            return PromoCode(id: try row.requiredInt(0, of: statement), fields: try fields(row, statement),
                             redemptions: try row.requiredInt(9, of: statement), createdAt: try time(10), updatedAt: try time(11))
        }

        static func bindings(_ fields: PromoCode.Fields) -> [MariaDBValue] {
            let (kind, value): (String, Money) = switch fields.discount {
            case .percent(let basisPoints): ("percent", Money(cents: basisPoints))
            case .amount(let amount): ("amount", amount)
            }
            return [.string(fields.code), .string(kind), .string(value.description), .string(fields.minSubtotal.description),
                    fields.maxRedemptions.map { .int($0) } ?? .null, fields.maxPerUser.map { .int($0) } ?? .null,
                    fields.startsAt.map { .string($0.databaseText) } ?? .null, fields.endsAt.map { .string($0.databaseText) } ?? .null]
        }

        struct Insert: MariaDBCommand {
            let fields: PromoCode.Fields
            let at: Timestamp
            static let sql = """
                INSERT INTO promo_codes (code, kind, value, min_subtotal, max_redemptions, max_per_user, starts_at, ends_at, \
                created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { Statements.bindings(fields) + [.string(at.databaseText), .string(at.databaseText)] }
        }

        struct Update: MariaDBCommand {
            let id: Int64
            let fields: PromoCode.Fields
            let at: Timestamp
            static let sql = """
                UPDATE promo_codes SET code = ?, kind = ?, value = ?, min_subtotal = ?, max_redemptions = ?, max_per_user = ?, \
                starts_at = ?, ends_at = ?, updated_at = ? WHERE id = ?
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { Statements.bindings(fields) + [.string(at.databaseText), .int(id)] }
        }

        struct Live: MariaDBQuery {
            let id: Int64
            var locking = false
            var sql: String {
                locking ? "SELECT \(Statements.columns) FROM promo_codes WHERE id = ? AND deleted_at IS NULL FOR UPDATE"
                        : "SELECT \(Statements.columns) FROM promo_codes WHERE id = ? AND deleted_at IS NULL"
            }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> PromoCode { try Statements.code(row, Self.self) }
        }

        struct LivePage: MariaDBQuery {
            let after: Int64
            let limit: Int64
            static let sql = "SELECT \(Statements.columns) FROM promo_codes WHERE deleted_at IS NULL AND id > ? ORDER BY id LIMIT ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(after), .int(limit)] }
            func decode(_ row: MariaDBRow) throws -> PromoCode { try Statements.code(row, Self.self) }
        }

        struct SoftDelete: MariaDBCommand {
            let id: Int64
            let at: Timestamp
            static let sql = "UPDATE promo_codes SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(at.databaseText), .string(at.databaseText), .int(id)] }
        }

        /// A code and this user's redemptions of it, by live text or by id. Locking reads the
        /// newest committed counters and holds the code's row (and the user's counter row).
        struct Use: MariaDBQuery {
            enum Key { case code(String), id(Int64) }
            let key: Key
            let userID: Int64
            let locking: Bool
            var sql: String {
                let condition = switch key {
                case .code: "c.live_code = ?"
                case .id: "c.id = ?"
                }
                return "SELECT c.id, c.code, c.kind, c.value, c.min_subtotal, c.max_redemptions, c.max_per_user, c.starts_at, "
                    + "c.ends_at, c.redemptions, c.created_at, c.updated_at, c.deleted_at IS NOT NULL, COALESCE(u.redemptions, 0) FROM promo_codes c "
                    + "LEFT JOIN promo_code_users u ON u.promo_code_id = c.id AND u.user_id = ? WHERE \(condition)"
                    + (locking ? " FOR UPDATE" : "")
            }
            var bindings: [MariaDBValue] {
                switch key {
                case .code(let code): [.int(userID), .string(code)]
                case .id(let id): [.int(userID), .int(id)]
                }
            }
            func decode(_ row: MariaDBRow) throws -> PromoCodeUse {
                let code = try Statements.code(row, Self.self)
                return PromoCodeUse(id: code.id, code: code.fields.code, fields: code.fields,
                                    deleted: try row.requiredInt(12, of: Self.self) != 0, redemptions: code.redemptions,
                                    userRedemptions: try row.requiredInt(13, of: Self.self))
            }
        }
    }
}
