import Logging

/// A thread's access to the database: holds at most one live connection and replaces it when it
/// broke, only between transactions. Runs transactions with a bounded retry on deadlock and lock
/// wait timeout. With several endpoints (a Galera cluster) it keeps its connection on the node its
/// process prefers, moves between transactions when that changes, and runs a transaction whose
/// node failed before COMMIT again on the next node.
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
    /// Called when a transaction or read runs again on another node because its node failed.
    public var onFailover: ((MariaDBError) -> Void)?

    public init(configuration: MariaDBConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Whether a live connection is held right now.
    public var isConnected: Bool { current.map { !$0.isBroken } ?? false }

    /// The live connection, connecting afresh if there is none, the last one broke, or the process
    /// now prefers another node.
    public func connection() throws -> MariaDBConnection {
        if let connection = current, !connection.isBroken {
            if connection.node == configuration.nodeHealth.preferredNode { return connection }
            // Between transactions: follow the process to its preferred node, or stay if it fails.
            guard let moved = try? open() else { return connection }
            drop()
            logger.notice("database connection moved", metadata: [
                "db.node": "\(configuration.endpoints[moved.node])", "db.from": "\(configuration.endpoints[connection.node])",
            ])
            return adopt(moved)
        }
        if current != nil {
            logger.notice("replacing broken database connection")
            drop()
        }
        return adopt(try open())
    }

    private func adopt(_ connection: MariaDBConnection) -> MariaDBConnection {
        current = connection
        onConnectionOpened?()
        return connection
    }

    /// Connects to the first node that takes the connection, unsuspected nodes first, in list order.
    private func open() throws -> MariaDBConnection {
        let health = configuration.nodeHealth
        var lastError: Error?
        for node in health.connectionOrder() {
            do {
                let connection = try MariaDBConnection(configuration: configuration, node: node)
                if health.recordUsable(node) {
                    logger.notice("database node usable again", metadata: ["db.node": "\(configuration.endpoints[node])"])
                }
                return connection
            } catch let error as MariaDBError where error.isConnectionLost {
                nodeFailed(node, error)
                lastError = error
            }
        }
        throw lastError ?? MariaDBError(code: .notConnected, serverMessage: "no database endpoint")
    }

    private func nodeFailed(_ node: Int, _ error: MariaDBError) {
        guard configuration.nodeCount > 1 else { return }
        if !configuration.nodeHealth.isSuspected(node) {
            logger.warning("database node failed", metadata: [
                "db.node": "\(configuration.endpoints[node])", "db.error": "\(error.code.rawValue)",
            ])
        }
        configuration.nodeHealth.recordFailed(node, configuration: configuration, logger: logger)
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
    /// restart, KILL, wait_timeout) or whose node failed is replaced and the read tried once more,
    /// on the next node if its own takes no connection: reads are safe to repeat.
    public func read<T>(_ body: (MariaDBConnection) throws -> T) throws -> T {
        let connection = try self.connection()
        do {
            return try body(connection)
        } catch let error as MariaDBError where error.isConnectionLost {
            connectionLost(error)
            if configuration.nodeCount > 1 { onFailover?(error) }
            return try body(try self.connection())
        }
    }

    /// Drops the current connection. Its node is suspected only when it said it cannot serve (1047):
    /// a connection killed or timed out on a healthy node is no node failure, and the next
    /// connection goes to the same node if it takes one (`open` suspects it otherwise).
    private func connectionLost(_ error: MariaDBError) {
        if error.code == .wsrepNotReady, let connection = current { nodeFailed(connection.node, error) }
        drop()
    }

    /// Runs `body` inside START TRANSACTION ... COMMIT. Any error rolls back explicitly. Deadlocks,
    /// lock wait timeouts (also when a row fetch or the COMMIT reports them), Galera certification
    /// aborts and a full server statement limit retry the whole body a bounded number of times,
    /// with jittered backoff. A connection found dead by START TRANSACTION (nothing has run) is
    /// replaced once. With several nodes, a transaction whose connection was lost before COMMIT
    /// (nothing of it is committed then) runs again on a new connection, on the next node if its
    /// own takes none, for `configuration.failoverSeconds` at most. A connection lost during COMMIT
    /// is reported: whether the transaction committed is unknown.
    public func transaction<T>(_ body: (MariaDBConnection) throws -> T) throws -> T {
        var attempt = 0
        var failoverDeadline: UInt64?
        while true {
            var begun = false
            do {
                let connection = try self.connection()
                try connection.beginTransaction()
                begun = true
                let value = try body(connection)
                do {
                    try connection.commit()
                } catch let error as MariaDBError where error.isConnectionLost && error.code != .wsrepNotReady {
                    drop()
                    throw CommitOutcomeUnknown(error: error)
                }
                return value
            } catch let unknown as CommitOutcomeUnknown {
                throw unknown.error
            } catch let error as MariaDBError {
                current?.rollback()
                if error.isConnectionLost {
                    connectionLost(error)
                    let now = MonotonicNanoseconds.now()
                    let firstLoss = failoverDeadline == nil
                    if firstLoss { failoverDeadline = now + UInt64(configuration.failoverSeconds * 1e9) }
                    if configuration.nodeCount > 1 {
                        if !firstLoss {
                            guard now < failoverDeadline! else { throw error }
                            usleep(20_000)
                        }
                        onFailover?(error)
                    } else {
                        guard firstLoss, !begun else { throw error }
                    }
                    logger.debug("running transaction again on a new connection", metadata: ["db.error": "\(error.code.rawValue)"])
                    continue
                }
                attempt += 1
                // A statement limit that freeing this connection's statements did not lift may be
                // lifted by the other connections doing the same: worth a retry too.
                if isRetryable(error), attempt < transactionAttempts {
                    onRetry?(error)
                    logger.debug("retrying transaction", metadata: ["db.error": "\(error.code.rawValue)", "attempt": "\(attempt)"])
                    let base = 5 << attempt  // 10, 20, 40 ms
                    usleep(UInt32(Int.random(in: base / 2...base) * 1000))
                    continue
                }
                throw error
            } catch {
                current?.rollback()
                throw error
            }
        }
    }

    /// Conflicts, the statement limit, and on a Galera node the 1064/1146 that a transaction
    /// aborted by a replicated write reports while the node opens its tables after a rejoin.
    private func isRetryable(_ error: MariaDBError) -> Bool {
        if error.kind == .conflict || error.kind == .statementLimit { return true }
        guard current?.isClusterNode == true else { return false }
        return error.code == .syntaxError || error.code == .unknownTable
    }

    private struct CommitOutcomeUnknown: Error {
        let error: MariaDBError
    }
}

/// CLOCK_MONOTONIC in nanoseconds (failover deadlines).
enum MonotonicNanoseconds {
    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

#if canImport(Glibc)
import Glibc
#endif
