import ArgumentParser
import Foundation
import MariaDB

/// One row that says who may migrate, until when. Taking it is one UPDATE, committed on its own:
/// on one server the row lock orders two takers, on a Galera cluster certification does (the
/// loser gets a deadlock error and tries again). A runner that dies leaves the lease to expire.
final class MigrationLease {
    private let connection: MariaDBConnection
    private let holder: String
    /// Long enough for any one migration file; renewed before each.
    static let leaseSeconds: Int64 = 900

    init(connection: MariaDBConnection) throws {
        self.connection = connection
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        holder = "\(String(cString: host)) pid \(getpid()) \(UInt32.random(in: 0...UInt32.max))"
        try connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migration_lease (
              id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
              holder VARCHAR(255) NULL,
              expires_at DATETIME NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """)
        try retryingConflicts { try connection.query("INSERT IGNORE INTO schema_migration_lease (id) VALUES (1)") }
    }

    /// Takes the lease, polling while another runner holds it; fails after `seconds`.
    func acquire(waitingUpTo seconds: Int, onWait: (String) -> Void) throws {
        let deadline = Date().addingTimeInterval(Double(seconds))
        var told = false
        while true {
            let taken = try retryingConflicts {
                try connection.query("""
                    UPDATE schema_migration_lease SET holder = ?, expires_at = UTC_TIMESTAMP() + INTERVAL ? SECOND
                    WHERE id = 1 AND (holder IS NULL OR expires_at < UTC_TIMESTAMP())
                    """, [.string(holder), .int(Self.leaseSeconds)]).affectedRows == 1
            }
            if taken { return }
            if !told, let current = try connection.query("SELECT holder FROM schema_migration_lease WHERE id = 1").first?.string(0) {
                onWait(current)
                told = true
            }
            guard Date() < deadline else {
                printError("another migration run still holds the lease after \(seconds) s; giving up")
                throw ExitCode(1)
            }
            usleep(200_000)
        }
    }

    /// Extends the lease; fails if it expired and another runner took it meanwhile.
    func renew() throws {
        try retryingConflicts {
            try connection.query("""
                UPDATE schema_migration_lease SET expires_at = UTC_TIMESTAMP() + INTERVAL ? SECOND
                WHERE id = 1 AND holder = ?
                """, [.int(Self.leaseSeconds), .string(holder)])
        }
        // Read back rather than trust the affected-row count: within the same second the UPDATE
        // changes nothing, and MariaDB counts changed rows.
        let kept = try connection.query("SELECT holder FROM schema_migration_lease WHERE id = 1").first?.string(0) == holder
        guard kept else {
            printError("the migration lease expired and was taken by another run; stopping")
            throw ExitCode(1)
        }
    }

    func release() {
        _ = try? retryingConflicts {
            try connection.query("UPDATE schema_migration_lease SET holder = NULL, expires_at = NULL WHERE id = 1 AND holder = ?",
                                 [.string(holder)])
        }
    }

    /// A concurrent runner's write to the same row (a deadlock on one server, a certification
    /// failure on Galera) only means "try again".
    private func retryingConflicts<T>(_ body: () throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try body()
            } catch let error as MariaDBError where error.isRetryableConflict && attempt < 20 {
                attempt += 1
                usleep(UInt32.random(in: 20_000...100_000))
            }
        }
    }
}
