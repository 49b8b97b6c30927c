import Foundation
import Logging
import Testing
@testable import MariaDB

/// The wrapper against a real MariaDB: binding, fetching, errors, the statement cache, and the
/// session's transactions. Serialized: they share one database and change global settings.
@Suite(.serialized, .enabled(if: WrapperDatabase.socket != nil, "STOCKROOM_TEST_DB_SOCKET not set"))
struct MariaDBConnectionTests {
    @Test func bindsAndFetchesEveryType() throws {
        let connection = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(connection, count: 1)
        let long = String(repeating: "é", count: 1500)  // past the 1024-byte first buffer
        try connection.query("UPDATE items SET label = ?, amount = ?, signed_value = ?, blob_value = ?, at = ? WHERE id = 1",
                             [.string(long), .string("19.99"), .int(-9_223_372_036_854_775_807), .bytes([0, 255, 1]),
                              .string("2026-01-09 14:06:33")])
        let row = try #require(try connection.query("SELECT id, label, amount, signed_value, blob_value, at FROM items WHERE id = ?", [.int(1)]).first)
        #expect(row.int(0) == 1)
        #expect(row.string(1) == long)
        #expect(row.string(2) == "19.99")
        #expect(row.int(3) == -9_223_372_036_854_775_807)
        #expect(row.bytes(4) == [0, 255, 1])
        #expect(row.string(5) == "2026-01-09 14:06:33")
        // At midnight the binary protocol sends a DATETIME as a date alone: still a DATETIME here.
        try connection.query("UPDATE items SET at = ? WHERE id = 1", [.string("2026-01-09 00:00:00")])
        #expect(try connection.query("SELECT at, CAST(at AS DATE) FROM items WHERE id = 1").first.map { [$0.string(0), $0.string(1)] }
            == ["2026-01-09 00:00:00", "2026-01-09"])
        try connection.query("UPDATE items SET label = ? WHERE id = 1", [.null])
        #expect(try connection.query("SELECT label FROM items WHERE id = 1").first?.string(0) == nil)
    }

    @Test func errorsCarryTheirCodeAndClass() throws {
        let connection = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(connection, count: 1)
        let duplicate = try #require(throws: MariaDBError.self) {
            try connection.query("INSERT INTO items (id) VALUES (?)", [.int(1)])
        }
        #expect(duplicate.code == .duplicateKey && duplicate.kind == .duplicateKey)
        #expect(!duplicate.description.contains("1'"))
        let syntax = try #require(throws: MariaDBError.self) { try connection.query("SELEKT 1") }
        #expect(syntax.code.rawValue == 1064 && syntax.kind == .other)
        #expect(!connection.isBroken)
        #expect(try connection.query("SELECT 1").rows.count == 1)
    }

    /// The defect of issue 8: a lock wait timeout on a later row of a locking SELECT arrives with
    /// a row fetch and only on the connection handle; it must come out as 1205, never as code 0.
    @Test func aLockWaitTimeoutInARowFetchKeepsItsCode() throws {
        let holder = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(holder, count: 3)
        let buyer = try WrapperDatabase.connect(lockWait: 1)
        try holder.beginTransaction()
        try holder.query("SELECT id FROM items WHERE id = 3 FOR UPDATE")
        try buyer.beginTransaction()
        let error = try #require(throws: MariaDBError.self) {
            try buyer.query("SELECT id FROM items WHERE id IN (?, ?) ORDER BY id FOR UPDATE", [.int(1), .int(3)])
        }
        buyer.rollback()
        holder.rollback()
        #expect(error.code == .lockWaitTimeout)
        #expect(error.kind == .conflict)
        #expect(!buyer.isBroken)
    }

    @Test func aKilledConnectionIsBrokenAndTheSessionReplacesIt() throws {
        let admin = try WrapperDatabase.connect()
        let session = MariaDBSession(configuration: WrapperDatabase.configuration(), logger: Logger(label: "test"))
        let id = try #require(try session.read { try $0.query("SELECT CONNECTION_ID()").first?.int(0) })
        try admin.query("KILL CONNECTION \(id)")
        // The transaction is not replayed: the first statement finds the connection gone, before
        // anything ran, so `begin` replaces it once.
        let fresh = try session.transaction { try $0.query("SELECT CONNECTION_ID()").first?.int(0) }
        #expect(fresh != nil && fresh != id)
        #expect(session.isConnected)
    }

    @Test func theStatementCacheIsBounded() throws {
        let connection = try WrapperDatabase.connect(statementCache: 4)
        for index in 0..<20 {
            try connection.query("SELECT ? + \(index)", [.int(1)])
            #expect(connection.cachedStatementCount <= 4)
        }
        #expect(connection.cachedStatementCount == 4)
    }

    /// With the server's max_prepared_stmt_count reached, a connection gives back its own
    /// statements and prepares again instead of failing.
    @Test func aFullServerStatementLimitIsRecovered() throws {
        let admin = try WrapperDatabase.connect()
        let limit = try #require(try admin.query("SELECT @@GLOBAL.max_prepared_stmt_count").first?.int(0))
        let connection = try WrapperDatabase.connect(statementCache: 16)
        for index in 0..<16 { try connection.query("SELECT \(index)") }
        let prepared = try WrapperDatabase.globalStatus("PREPARED_STMT_COUNT", admin)
        try admin.query("SET GLOBAL max_prepared_stmt_count = \(prepared)")
        defer { _ = try? admin.query("SET GLOBAL max_prepared_stmt_count = \(limit)") }
        for index in 100..<140 {
            #expect(try connection.query("SELECT \(index)").first?.int(0) == Int64(index))
        }
        // A connection that holds nothing cannot free anything: the error keeps its class.
        let empty = try WrapperDatabase.connect()
        let now = try WrapperDatabase.globalStatus("PREPARED_STMT_COUNT", admin)
        try admin.query("SET GLOBAL max_prepared_stmt_count = \(now)")
        let error = try #require(throws: MariaDBError.self) { try empty.query("SELECT 'nothing to give back'") }
        #expect(error.kind == .statementLimit)
    }

    /// A cached statement whose result changed shape (a migration ran meanwhile) is prepared
    /// again: outside a transaction at once, inside one by retrying the transaction.
    @Test func aStatementSurvivesAChangeOfItsTable() throws {
        let connection = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(connection, count: 2)
        let sql = "SELECT * FROM items WHERE id = ?"
        #expect(try connection.query(sql, [.int(1)]).first?.count == 6)
        try connection.query("ALTER TABLE items ADD COLUMN extra INT NULL")
        #expect(try connection.query(sql, [.int(1)]).first?.count == 7)
        #expect(!connection.isBroken)

        let session = MariaDBSession(configuration: WrapperDatabase.configuration(), logger: Logger(label: "test"))
        #expect(try session.transaction { try $0.query(sql, [.int(1)]).first?.count } == 7)
        try connection.query("ALTER TABLE items DROP COLUMN extra")
        var attempts = 0
        let count = try session.transaction { connection -> Int? in
            attempts += 1
            return try connection.query(sql, [.int(1)]).first?.count
        }
        #expect(count == 6)
        #expect(attempts == 2)
    }

    @Test func theTransactionHelperRetriesADeadlock() throws {
        let admin = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(admin, count: 200)
        let session = MariaDBSession(configuration: WrapperDatabase.configuration(lockWait: 5), logger: Logger(label: "test"))
        var retries = 0
        session.onRetry = { _ in retries += 1 }
        let other = try WrapperDatabase.connect(lockWait: 5)
        var attempts = 0
        try session.transaction { connection in
            attempts += 1
            try connection.query("UPDATE items SET label = 'a' WHERE id = 1")
            if attempts == 1 {
                // Another transaction holds rows 2..200 and then asks for row 1; our request for
                // row 2 below closes the cycle, and InnoDB rolls back the lighter side: ours.
                try other.beginTransaction()
                try other.query("UPDATE items SET label = 'b' WHERE id >= 2")
                // Handed to the asker thread whole; this thread does not touch it again.
                nonisolated(unsafe) let handedOver = other
                let asker = Thread {
                    _ = try? handedOver.query("UPDATE items SET label = 'b' WHERE id = 1")
                    handedOver.rollback()
                }
                asker.start()
                usleep(300_000)
            }
            try connection.query("UPDATE items SET label = 'a' WHERE id = 2")
        }
        #expect(attempts == 2)
        #expect(retries == 1)
        #expect(try admin.query("SELECT label FROM items WHERE id = 2").first?.string(0) == "a")
    }

    /// A server without Galera (wsrep off): the connect-time cluster check lets it serve, leaves
    /// wsrep_sync_wait as the server has it, and keeps no statement of its own in the cache.
    @Test func aPlainServerIsNoClusterNode() throws {
        let connection = try WrapperDatabase.connect()
        #expect(!connection.isClusterNode)
        #expect(connection.cachedStatementCount == 0)
        let syncWait = try #require(try connection.query("SELECT @@SESSION.wsrep_sync_wait, @@GLOBAL.wsrep_sync_wait").first)
        #expect(syncWait.int(0) == syncWait.int(1))
    }

    /// A statement as a value: its SQL, bindings and row decoding run through one call.
    @Test func typedStatementsRunAndDecode() throws {
        struct Label: MariaDBQuery {
            let id: Int64
            var sql: String { "SELECT id, label FROM items WHERE id = ?" }
            var bindings: [MariaDBValue] { [.int(id)] }
            func decode(_ row: MariaDBRow) throws -> (id: Int64, label: String) {
                (try row.requiredInt(0, of: Self.self), try row.requiredString(1, of: Self.self))
            }
        }
        struct Relabel: MariaDBCommand {
            let ids: [Int64]
            let label: String
            var sql: String { "UPDATE items SET label = ? WHERE id IN (\(StatementShape.placeholders(StatementShape.padded(ids).count)))" }
            var bindings: [MariaDBValue] { [.string(label)] + StatementShape.padded(ids).map { .int($0) } }
        }
        let connection = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(connection, count: 3)
        #expect(try connection.execute(Relabel(ids: [1, 2, 3], label: "typed")).affectedRows == 3)
        let row = try #require(try connection.first(Label(id: 2)))
        #expect(row.id == 2 && row.label == "typed")
        #expect(try connection.rows(Label(id: 99)).isEmpty)
        try connection.query("UPDATE items SET label = NULL WHERE id = 3")
        let error = try #require(throws: MariaDBDecodingError.self) { try connection.first(Label(id: 3)) }
        #expect(error.column == 1 && error.statement.contains("Label"))
    }

    /// The rows of a result share one buffer: NULLs at the start, middle and end of rows, a value
    /// past its column's first buffer between others, and every digit 0 and 9 in integers and times.
    @Test func rowsOfOneResultDecodeApart() throws {
        let connection = try WrapperDatabase.connect()
        try WrapperDatabase.resetItems(connection, count: 4)
        let long = String(repeating: "ü\"\\", count: 600)  // 2400 bytes: past the first buffer
        try connection.query("UPDATE items SET label = NULL, amount = ?, signed_value = ?, at = ? WHERE id = 1",
                             [.string("0.00"), .int(Int64.min), .string("2000-01-01 00:00:00")])
        try connection.query("UPDATE items SET label = ?, amount = NULL, signed_value = ?, at = ? WHERE id = 2",
                             [.string(long), .int(-9), .string("1999-09-09 09:09:09")])
        try connection.query("UPDATE items SET label = ?, amount = ?, signed_value = ?, at = NULL WHERE id = 3",
                             [.string(""), .string("99.99"), .int(Int64.max)])
        try connection.query("UPDATE items SET label = ?, amount = ?, signed_value = 0, at = ? WHERE id = 4",
                             [.string("名前"), .string("-0.09"), .string("9999-12-29 19:59:59")])
        let rows = try connection.query("SELECT id, label, amount, signed_value, at, CAST(at AS DATE) FROM items ORDER BY id").rows
        #expect(rows.count == 4)
        func columns(_ row: MariaDBRow) -> [String?] { (0..<row.count).map { row.string($0) } }
        #expect(columns(rows[0]) == ["1", nil, "0.00", "-9223372036854775808", "2000-01-01 00:00:00", "2000-01-01"])
        #expect(columns(rows[1]) == ["2", long, nil, "-9", "1999-09-09 09:09:09", "1999-09-09"])
        #expect(columns(rows[2]) == ["3", "", "99.99", "9223372036854775807", nil, nil])
        #expect(columns(rows[3]) == ["4", "名前", "-0.09", "0", "9999-12-29 19:59:59", "9999-12-29"])
        #expect(rows[1].int(3) == -9 && rows[2].int(3) == Int64.max && rows[3].int(3) == 0)
        #expect(rows[1].slice(2) == nil && rows[2].slice(1)?.isEmpty == true)
        // An unsigned column at its largest, and a row of NULLs only.
        let big = try #require(try connection.query("SELECT CAST(18446744073709551615 AS UNSIGNED), NULL, CAST(0 AS UNSIGNED)").first)
        #expect(big.string(0) == "18446744073709551615" && big.string(1) == nil && big.string(2) == "0")
        let nulls = try #require(try connection.query("SELECT NULL, NULL").first)
        #expect(nulls.string(0) == nil && nulls.string(1) == nil)
    }
}
