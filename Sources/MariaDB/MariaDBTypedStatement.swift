/// A statement as a value: its SQL, its bound values and, for queries, how a row decodes, written
/// together in one type (as postgres-nio's prepared statements are). Stores declare one type per
/// statement next to the code that runs it; nothing builds SQL from input.
public protocol MariaDBCommand {
    /// The SQL with `?` placeholders; fixed, or shaped only by counts (IN lists, multi-row INSERTs).
    var sql: String { get }
    var bindings: [MariaDBValue] { get }
}

/// A command whose result rows decode into `Row`.
public protocol MariaDBQuery: MariaDBCommand {
    associatedtype Row
    func decode(_ row: MariaDBRow) throws -> Row
}

/// A column that did not hold what its statement's decoding expects: a schema and code out of step.
public struct MariaDBDecodingError: Error, CustomStringConvertible {
    public var statement: String
    public var column: Int

    public init(statement: String, column: Int) {
        self.statement = statement
        self.column = column
    }

    public var description: String { "unexpected value in column \(column) of \(statement)" }
}

extension MariaDBRow {
    /// Column `index` decoded by `read`, or a `MariaDBDecodingError` naming `statement`.
    public func required<T>(_ index: Int, of statement: Any.Type, _ read: (MariaDBRow, Int) -> T?) throws -> T {
        guard let value = read(self, index) else {
            throw MariaDBDecodingError(statement: String(describing: statement), column: index)
        }
        return value
    }

    public func requiredInt(_ index: Int, of statement: Any.Type) throws -> Int64 {
        try required(index, of: statement) { $0.int($1) }
    }

    public func requiredString(_ index: Int, of statement: Any.Type) throws -> String {
        try required(index, of: statement) { $0.string($1) }
    }
}

extension MariaDBConnection {
    /// Runs `command`; its affected rows and last insert id.
    @discardableResult
    public func execute<Command: MariaDBCommand>(_ command: Command) throws -> MariaDBResult {
        try query(command.sql, command.bindings)
    }

    /// Runs `query` and decodes every row.
    @inlinable  // specialized in the stores: no generic map and closure thunks per row
    public func rows<Query: MariaDBQuery>(_ query: Query) throws -> [Query.Row] {
        try self.query(query.sql, query.bindings).rows.map(query.decode)
    }

    /// Runs `query` and decodes its first row, if any.
    @inlinable  // specialized in the stores: no generic map and closure thunks per row
    public func first<Query: MariaDBQuery>(_ query: Query) throws -> Query.Row? {
        try self.query(query.sql, query.bindings).first.map(query.decode)
    }
}

/// The SQL shapes of statements whose placeholder count follows a count (IN lists, multi-row
/// INSERTs). Values are always bound, never written into the SQL.
public enum StatementShape {
    /// `values` repeated at the end up to the next power of two: `IN (?, ...)` lists then come in a
    /// few shapes (1, 2, 4 ... 64), each prepared once per connection, instead of one per count.
    public static func padded<T>(_ values: [T]) -> [T] {
        guard let last = values.last else { return values }
        var size = 1
        while size < values.count { size <<= 1 }
        guard size > values.count else { return values }  // no copy on the hot path (one-line orders)
        return values + Array(repeating: last, count: size - values.count)
    }

    /// `?, ?, ?`.
    public static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// `(?, ?), (?, ?)` for a multi-row INSERT.
    public static func rows(columns: Int, count: Int) -> String {
        Array(repeating: "(\(placeholders(columns)))", count: count).joined(separator: ", ")
    }
}
