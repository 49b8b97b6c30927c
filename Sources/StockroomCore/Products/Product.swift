/// A product for sale.
public struct Product: Sendable, Equatable {
    public let id: Int64
    public var name: String
    public var price: Money
    public var stock: Int64
    public let createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(id: Int64, name: String, price: Money, stock: Int64, createdAt: Timestamp, updatedAt: Timestamp) {
        self.id = id
        self.name = name
        self.price = price
        self.stock = stock
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// Stock is at most this, whatever changes it (the column's CHECK says the same).
    public static let maximumStock: Int64 = 1_000_000_000
    /// A name is 1..255 characters, not only white space.
    public static let nameLengths = 1...255
    public static let restockQuantities: ClosedRange<Int64> = 1...1_000_000

    /// What POST and PUT set: all three fields.
    public struct Fields: Sendable, Equatable {
        public var name: String
        public var price: Money
        public var stock: Int64

        public init(name: String, price: Money, stock: Int64) {
            self.name = name
            self.price = price
            self.stock = stock
        }
    }
}

/// A product row's columns as the database returned them, for read paths that write them out
/// unchanged: DECIMAL text is already the API's money form and DATETIME text becomes RFC 3339 by
/// two bytes, so nothing is parsed and formatted again.
public struct ProductColumns: Sendable {
    public let id: ArraySlice<UInt8>
    public let name: ArraySlice<UInt8>
    public let price: ArraySlice<UInt8>
    public let stock: ArraySlice<UInt8>
    /// `YYYY-MM-DD hh:mm:ss` in UTC.
    public let createdAt: ArraySlice<UInt8>
    public let updatedAt: ArraySlice<UInt8>
}
