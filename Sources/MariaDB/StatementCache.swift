/// A bounded least-recently-used map from SQL text to a prepared statement. MariaDB's
/// `max_prepared_stmt_count` is shared by every connection of every process, so each connection
/// may hold at most `capacity` statements; evicted ones are closed by their deinit.
struct StatementCache<Statement: AnyObject> {
    let capacity: Int
    /// A class, so that a hit updates its use in place: one hash of the SQL text per query.
    private final class Entry {
        let statement: Statement
        var lastUse: UInt64
        init(_ statement: Statement, _ lastUse: UInt64) {
            self.statement = statement
            self.lastUse = lastUse
        }
    }

    private var entries: [String: Entry] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int) {
        precondition(capacity >= 1, "a statement cache holds at least one statement")
        self.capacity = capacity
    }

    var count: Int { entries.count }

    /// The cached statement for `sql`, marked as just used.
    mutating func statement(for sql: String) -> Statement? {
        guard let entry = entries[sql] else { return nil }
        clock &+= 1
        entry.lastUse = clock
        return entry.statement
    }

    /// Caches `statement`; returns the statement evicted to make room, if any (the caller lets it go).
    @discardableResult
    mutating func insert(_ statement: Statement, for sql: String) -> Statement? {
        clock &+= 1
        var evicted: Statement?
        if entries[sql] == nil && entries.count >= capacity,
           let oldest = entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            evicted = entries.removeValue(forKey: oldest.key)?.statement
        }
        entries[sql] = Entry(statement, clock)
        return evicted
    }

    mutating func remove(_ sql: String) {
        entries.removeValue(forKey: sql)
    }

    mutating func removeAll() {
        entries.removeAll()
    }
}
