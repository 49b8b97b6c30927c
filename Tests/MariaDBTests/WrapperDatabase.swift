import Foundation
@testable import MariaDB

/// The private MariaDB these tests run against: `STOCKROOM_TEST_DB_SOCKET` names its socket, with
/// root reachable over it (scripts/wrapper-test.sh starts one). Without it the suites are disabled.
enum WrapperDatabase {
    static let socket = ProcessInfo.processInfo.environment["STOCKROOM_TEST_DB_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
    static let name = "wrapper_test"

    static func configuration(database: String = name, statementCache: Int = 64, lockWait: UInt32 = 1) -> MariaDBConfiguration {
        var configuration = MariaDBConfiguration(unixSocket: socket, user: "root", database: database, readTimeout: 10,
                                                 writeTimeout: 10, lockWaitTimeout: lockWait)
        configuration.statementCacheCapacity = statementCache
        return configuration
    }

    /// A connection to a fresh copy of the test database's one table.
    static func connect(statementCache: Int = 64, lockWait: UInt32 = 1) throws -> MariaDBConnection {
        MariaDBConnection.initializeLibrary()
        let setup = try MariaDBConnection(configuration: configuration(database: "mysql"))
        try setup.query("CREATE DATABASE IF NOT EXISTS \(name)")
        return try MariaDBConnection(configuration: configuration(statementCache: statementCache, lockWait: lockWait))
    }

    static func resetItems(_ connection: MariaDBConnection, count: Int = 3) throws {
        try connection.query("DROP TABLE IF EXISTS items")
        try connection.query("""
            CREATE TABLE items (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, label VARCHAR(2000) NULL,
              amount DECIMAL(12,2) NULL, signed_value BIGINT NULL, blob_value BLOB NULL, at DATETIME NULL) ENGINE=InnoDB
            """)
        for id in 1...max(count, 1) {
            try connection.query("INSERT INTO items (id, label) VALUES (?, ?)", [.int(Int64(id)), .string("item \(id)")])
        }
    }

    /// Current value of a global status counter.
    static func globalStatus(_ name: String, _ connection: MariaDBConnection) throws -> Int64 {
        let row = try connection.query("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = ?", [.string(name)]).first
        return row?.int(0) ?? -1
    }
}
