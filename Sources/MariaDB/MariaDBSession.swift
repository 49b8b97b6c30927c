import Logging

/// A thread's access to the database: holds at most one live connection and replaces it when it
/// broke, only between transactions. Runs transactions with a bounded retry on deadlock and lock
/// wait timeout.
public final class MariaDBSession {
    public let configuration: MariaDBConfiguration
    private var current: MariaDBConnection?
    private let logger: Logger
    public var transactionAttempts = 4
    /// Called for every retry of a conflicting transaction (metrics).
    public var onRetry: ((MariaDBError) -> Void)?
    /// Called when a connection is opened, and when one is dropped (broken or closed).
    public var onConnectionOpened: (() -> Void)?
    public var onConnectionClosed: (() -> Void)?

    public init(configuration: MariaDBConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Whether a live connection is held right now.
    public var isConnected: Bool { current.map { !$0.isBroken } ?? false }

    /// The live connection, connecting afresh if there is none or the last one broke.
    public func connection() throws -> MariaDBConnection {
        if let connection = current, !connection.isBroken {
            return connection
        }
        if current != nil {
            logger.notice("replacing broken database connection")
            drop()
        }
        let connection = try MariaDBConnection(configuration: configuration)
        current = connection
        onConnectionOpened?()
        return connection
    }

    public func close() {
        drop()
    }

    private func drop() {
        if current != nil {
            current = nil
            onConnectionClosed?()
        }
    }

    /// `SELECT 1` round trip; reconnects first when needed.
    public func isDatabaseUp() -> Bool {
        do {
            return try read { try $0.query("SELECT 1").rows.count == 1 }
        } catch {
            return false
        }
    }

    /// Runs read-only statements outside a transaction. A connection that died while idle (server
    /// restart, KILL, wait_timeout) is replaced and the read tried once more: reads are safe to repeat.
    public func read<T>(_ body: (MariaDBConnection) throws -> T) throws -> T {
        let connection = try self.connection()
        do {
            return try body(connection)
        } catch let error as MariaDBError where error.isConnectionLost {
            drop()
            return try body(try self.connection())
        }
    }

    /// START TRANSACTION on a live connection; a connection found dead at this point (nothing of the
    /// transaction has run yet) is replaced once.
    private func begin() throws -> MariaDBConnection {
        let connection = try self.connection()
        do {
            try connection.beginTransaction()
            return connection
        } catch let error as MariaDBError where error.isConnectionLost {
            drop()
            let fresh = try self.connection()
            try fresh.beginTransaction()
            return fresh
        }
    }

    /// Runs `body` inside START TRANSACTION ... COMMIT. Any error rolls back explicitly. Deadlocks,
    /// lock wait timeouts (also when a row fetch or the COMMIT reports them) and a full server
    /// statement limit retry the whole body a bounded number of times, with jittered backoff.
    public func transaction<T>(_ body: (MariaDBConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try begin()
            do {
                let value = try body(connection)
                try connection.commit()
                return value
            } catch let error as MariaDBError {
                connection.rollback()
                // A statement limit that freeing this connection's statements did not lift may be
                // lifted by the other connections doing the same: worth a retry too.
                if error.kind == .conflict || error.kind == .statementLimit, attempt < transactionAttempts {
                    onRetry?(error)
                    logger.debug("retrying transaction", metadata: ["db.error": "\(error.code.rawValue)", "attempt": "\(attempt)"])
                    let base = 5 << attempt  // 10, 20, 40 ms
                    usleep(UInt32(Int.random(in: base / 2...base) * 1000))
                    continue
                }
                throw error
            } catch {
                connection.rollback()
                throw error
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
