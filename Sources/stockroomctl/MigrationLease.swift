import ArgumentParser
import Foundation
import MariaDB

/// One row that says who may migrate, until when. Taking it is one UPDATE, committed on its own:
/// on one server the row lock orders two takers, on a Galera cluster certification does (the
/// loser gets a deadlock error and tries again). While it runs, a thread of its own renews the
/// lease over a second connection (a long ALTER keeps the first busy); a runner that dies leaves
/// the lease to expire within `leaseSeconds`.
final class MigrationLease {
    private let connection: MariaDBConnection
    private let holder: String
    static let defaultLeaseSeconds = 60
    private let leaseSeconds: Int64
    private let stopRenewing = DispatchSemaphore(value: 0)
    private let renewerDone = DispatchSemaphore(value: 0)
    private var renewing = false

    init(connection: MariaDBConnection, leaseSeconds: Int = MigrationLease.defaultLeaseSeconds) throws {
        self.connection = connection
        self.leaseSeconds = Int64(max(leaseSeconds, 4))
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
                    """, [.string(holder), .int(leaseSeconds)]).affectedRows == 1
            }
            if taken {
                startRenewing()
                return
            }
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
                """, [.int(leaseSeconds), .string(holder)])
        }
        // Read back rather than trust the affected-row count: within the same second the UPDATE
        // changes nothing, and MariaDB counts changed rows.
        let kept = try connection.query("SELECT holder FROM schema_migration_lease WHERE id = 1").first?.string(0) == holder
        guard kept else {
            printError("the migration lease expired and was taken by another run; stopping")
            throw ExitCode(1)
        }
    }

    /// Every `leaseSeconds / 4`, on its own connection, until `release`.
    private func startRenewing() {
        // Read (and found good) before the first connection, so this never returns early.
        guard let configuration = try? OperatorDatabase.loaded.get().database else { return }
        renewing = true
        let node = connection.node  // the runner's node: one writer node, on a cluster too
        let holder = self.holder
        let leaseSeconds = self.leaseSeconds
        let thread = Thread { [stopRenewing, renewerDone] in
            MariaDBConnection.initializeThread()
            var connection = try? MariaDBConnection(configuration: configuration, node: node)
            while stopRenewing.wait(timeout: .now() + .milliseconds(Int(leaseSeconds) * 250)) == .timedOut {
                if connection == nil || connection!.isBroken { connection = try? MariaDBConnection(configuration: configuration, node: node) }
                _ = try? connection?.query("""
                    UPDATE schema_migration_lease SET expires_at = UTC_TIMESTAMP() + INTERVAL ? SECOND
                    WHERE id = 1 AND holder = ?
                    """, [.int(leaseSeconds), .string(holder)])
            }
            connection = nil
            MariaDBConnection.finishThread()
            renewerDone.signal()
        }
        thread.name = "lease-renewer"
        thread.start()
    }

    func release() {
        if renewing {
            stopRenewing.signal()
            renewerDone.wait()
            renewing = false
        }
        _ = try? retryingConflicts {
            try connection.query("UPDATE schema_migration_lease SET holder = NULL, expires_at = NULL WHERE id = 1 AND holder = ?",
                                 [.string(holder)])
        }
    }

    /// A concurrent runner's write to the same row (a deadlock on one server, a certification
    /// failure on Galera) only means "try again".
    @discardableResult
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
