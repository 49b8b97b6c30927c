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
    /// Index of the endpoint (in the configuration's list) this connection went to.
    public let node: Int
    /// The server is a Galera node (`wsrep_on`): its certification aborts look different (see
    /// `MariaDBSession`).
    public private(set) var isClusterNode = false

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

    /// Connects to endpoint `node` (the socket when one is configured) and checks that it can serve:
    /// a Galera node must be synced and in the primary component.
    public init(configuration: MariaDBConfiguration, node: Int = 0) throws {
        precondition(configuration.endpoints.indices.contains(node), "no endpoint \(node)")
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
        let endpoint = configuration.endpoints[node]
        let connected = mysql_real_connect(
            handle,
            configuration.unixSocket == nil ? endpoint.host : nil,
            configuration.user, configuration.password, configuration.database,
            configuration.unixSocket == nil ? endpoint.port : 0,
            configuration.unixSocket, 0)
        if connected == nil {
            let error = MariaDBStatement.error(statement: nil, connection: handle)
            mysql_close(handle)  // a failed connect must not leak the handle
            throw error
        }
        self.handle = handle
        self.node = node
        self.statements = StatementCache(capacity: configuration.statementCacheCapacity)
        try checkClusterState()
    }

    /// On a Galera node: refuses a node that is not ready, not synced (a joiner still catching up,
    /// whose reads are stale) or outside the primary component, with 1047 as the server would; and
    /// sets `wsrep_sync_wait = 1`, so that a read (and START TRANSACTION) first waits for every
    /// write the cluster committed before it: read-your-writes even across nodes. A server without
    /// Galera (no `wsrep_on`, or off) is left as it is.
    private func checkClusterState() throws {
        let sql = """
            SELECT @@wsrep_on, \
            (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_READY'), \
            (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE'), \
            (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_CLUSTER_STATUS')
            """
        let row: MariaDBRow
        do {
            defer { statements.remove(sql) }  // asked once per connection: no cache slot for it
            guard let first = try query(sql).first else { return }
            row = first
        } catch let error as MariaDBError where error.code == .unknownSystemVariable {
            return  // a build without Galera support
        }
        guard row.int(0) == 1 else { return }
        isClusterNode = true
        // 4 is Synced; 2 (Donor/Desynced) still applies every write in order and serves, as a
        // mariabackup donor does.
        let ready = row.string(1) == "ON", localState = row.string(2), primary = row.string(3) == "Primary"
        guard ready, primary, localState == "4" || localState == "2" else {
            isBroken = true
            throw MariaDBError(code: .wsrepNotReady, sqlState: "08S01",
                               serverMessage: "Galera node not usable (ready \(row.string(1) ?? "?"), state \(localState ?? "?"), \(row.string(3) ?? "?"))")
        }
        try execute(text: "SET SESSION wsrep_sync_wait = 1")
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
        try execute(text: "START TRANSACTION")
        isInTransaction = true
    }

    /// A statement without parameters or result, sent as text (nothing to prepare or cache).
    private func execute(text: String) throws {
        try ensureUsable()
        if mysql_real_query(handle, text, UInt(text.utf8.count)) != 0 {
            let error = lastError()
            noteFailure(error)
            throw error
        }
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
        guard !isBroken, isInTransaction else { return }
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
