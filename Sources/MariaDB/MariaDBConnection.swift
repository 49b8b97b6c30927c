import CMariaDB

/// One connection to MariaDB: owns its `MYSQL*` and its prepared statements, and is used by one
/// thread at a time. Auto-reconnect stays off; once a connection error is seen the connection is
/// marked broken and every further call fails, so nothing ever runs outside the transaction it
/// belongs to. The owner (`MariaDBSession`) replaces a broken connection between transactions.
public final class MariaDBConnection {
    private let handle: UnsafeMutablePointer<MYSQL>
    private var statements: StatementCache<MariaDBStatement>
    public private(set) var isBroken = false
    public private(set) var isInTransaction = false

    /// Calls `mysql_library_init` once; call before starting threads.
    public static func initializeLibrary() {
        _ = stockroom_mysql_library_init()
    }

    /// Per-thread client state; each thread that owns connections calls this once.
    public static func initializeThread() {
        _ = mysql_thread_init()
    }

    public static func finishThread() {
        mysql_thread_end()
    }

    public init(configuration: MariaDBConfiguration) throws {
        guard let handle = mysql_init(nil) else {
            throw MariaDBError(code: MariaDBError.Code(2008), serverMessage: "out of memory in mysql_init")
        }
        stockroom_mysql_set_uint_option(handle, MYSQL_OPT_CONNECT_TIMEOUT, configuration.connectTimeout)
        stockroom_mysql_set_uint_option(handle, MYSQL_OPT_READ_TIMEOUT, configuration.readTimeout)
        stockroom_mysql_set_uint_option(handle, MYSQL_OPT_WRITE_TIMEOUT, configuration.writeTimeout)
        stockroom_mysql_set_bool_option(handle, MYSQL_OPT_RECONNECT, 0)
        stockroom_mysql_set_string_option(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        // Session settings from configuration numbers, never from request input.
        stockroom_mysql_set_string_option(handle, MYSQL_INIT_COMMAND,
            "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout = \(configuration.lockWaitTimeout)")
        if configuration.readCommitted {
            stockroom_mysql_set_string_option(handle, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        }
        let connected = mysql_real_connect(
            handle,
            configuration.unixSocket == nil ? configuration.host : nil,
            configuration.user, configuration.password, configuration.database,
            configuration.unixSocket == nil ? configuration.port : 0,
            configuration.unixSocket, 0)
        if connected == nil {
            let error = MariaDBStatement.error(statement: nil, connection: handle)
            mysql_close(handle)  // a failed connect must not leak the handle
            throw error
        }
        self.handle = handle
        self.statements = StatementCache(capacity: configuration.statementCacheCapacity)
    }

    deinit {
        statements.removeAll()  // statements close before their connection
        mysql_close(handle)
    }

    /// Runs `sql` as a server-side prepared statement with `parameters`. Statements stay prepared
    /// in a bounded per-connection cache, so that one connection holds at most
    /// `statementCacheCapacity` of the server's `max_prepared_stmt_count`.
    @discardableResult
    public func query(_ sql: String, _ parameters: [MariaDBValue] = []) throws -> MariaDBResult {
        try ensureUsable()
        do {
            do {
                return try prepared(sql).execute(parameters)
            } catch let error as MariaDBError where error.code == .needsReprepare || error.code == .resultShapeChanged {
                // The table changed under a cached statement (a migration): prepare it afresh.
                // Inside a transaction the statement may have run, so the transaction is retried
                // whole (2057 is a conflict); outside one only reads return rows: run it again.
                statements.remove(sql)
                if isInTransaction && error.code == .resultShapeChanged { throw error }
                return try prepared(sql).execute(parameters)
            }
        } catch let error as MariaDBError {
            noteFailure(error)
            throw error
        }
    }

    /// Statements cached on this connection right now.
    public var cachedStatementCount: Int { statements.count }

    private func prepared(_ sql: String) throws -> MariaDBStatement {
        if let cached = statements.statement(for: sql) { return cached }
        let statement: MariaDBStatement
        do {
            statement = try MariaDBStatement(connection: handle, sql: sql)
        } catch let error as MariaDBError where error.code == .tooManyPreparedStatements {
            // The server-wide limit is reached: give back every statement this connection holds
            // (closing one costs no round trip) and try once more before reporting it.
            statements.removeAll()
            statement = try MariaDBStatement(connection: handle, sql: sql)
        }
        statements.insert(statement, for: sql)
        return statement
    }

    public func beginTransaction() throws {
        try ensureUsable()
        let text = "START TRANSACTION"
        if mysql_real_query(handle, text, UInt(text.utf8.count)) != 0 {
            let error = lastError()
            noteFailure(error)
            throw error
        }
        isInTransaction = true
    }

    public func commit() throws {
        try ensureUsable()
        defer { isInTransaction = false }
        if mysql_commit(handle) != 0 {
            let error = lastError()
            noteFailure(error)
            throw error
        }
    }

    /// Rolls back; a failure here only marks the connection broken (the server rolls back on disconnect).
    public func rollback() {
        defer { isInTransaction = false }
        guard !isBroken else { return }
        if mysql_rollback(handle) != 0 {
            isBroken = true
        }
    }

    private func ensureUsable() throws {
        if isBroken {
            throw MariaDBError(code: .notConnected, serverMessage: "connection is broken")
        }
    }

    private func noteFailure(_ error: MariaDBError) {
        if error.breaksConnection {
            isBroken = true
        }
    }

    private func lastError() -> MariaDBError {
        MariaDBStatement.error(statement: nil, connection: handle)
    }
}
