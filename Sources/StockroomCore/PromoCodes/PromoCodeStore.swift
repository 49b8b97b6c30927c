import MariaDB

/// Promo codes in the database: the admin's CRUD, and the lookups carts and orders make. The
/// redemption counters are written only by the orders trigger (sql/006).
public struct PromoCodeStore {
    private let database: MariaDBSession

    public init(_ database: MariaDBSession) { self.database = database }

    public func create(_ fields: PromoCode.Fields) throws -> PromoCode {
        let now = Timestamp.now()
        do {
            let id = try database.transaction { try $0.execute(Statements.Insert(fields: fields, at: now)).lastInsertID }
            return PromoCode(id: Int64(id), fields: fields, redemptions: 0, createdAt: now, updatedAt: now)
        } catch let error as MariaDBError where error.code == .duplicateKey {
            throw StoreError.promoCodeTaken
        }
    }

    public func find(id: Int64) throws -> PromoCode? {
        try database.read { try $0.first(Statements.Live(id: id)) }
    }

    /// Live codes by ascending id after `after`, up to `limit`.
    public func page(after: Int64, limit: Int64) throws -> [PromoCode] {
        try database.read { try $0.rows(Statements.LivePage(after: after, limit: limit)) }
    }

    /// Replaces every field; the redemptions stay.
    public func replace(id: Int64, with fields: PromoCode.Fields) throws -> PromoCode {
        let now = Timestamp.now()
        do {
            return try database.transaction { connection in
                guard var code = try connection.first(Statements.Live(id: id, locking: true)) else {
                    throw StoreError.promoCodeNotFound
                }
                try connection.execute(Statements.Update(id: id, fields: fields, at: now))
                code.fields = fields
                code.updatedAt = now
                return code
            }
        } catch let error as MariaDBError where error.code == .duplicateKey {
            throw StoreError.promoCodeTaken
        }
    }

    /// The code stops applying at once; orders keep its text, and its text is free again.
    public func delete(id: Int64) throws {
        let now = Timestamp.now()
        let deleted = try database.transaction { try $0.execute(Statements.SoftDelete(id: id, at: now)).affectedRows }
        guard deleted == 1 else { throw StoreError.promoCodeNotFound }
    }

    /// The live code with this text (any letter case) as `userID` would use it; locked to the end
    /// of the transaction when `locking` (the limits are only exact under that lock).
    static func use(code: String, userID: Int64, locking: Bool, _ connection: MariaDBConnection) throws -> PromoCodeUse? {
        guard PromoCode.isValidCode(code) else { return nil }
        return try connection.first(Statements.Use(key: .code(code), userID: userID, locking: locking))
    }

    /// The code with this id, deleted or not, as `userID` would use it.
    static func use(id: Int64, userID: Int64, locking: Bool, _ connection: MariaDBConnection) throws -> PromoCodeUse? {
        try connection.first(Statements.Use(key: .id(id), userID: userID, locking: locking))
    }
}
