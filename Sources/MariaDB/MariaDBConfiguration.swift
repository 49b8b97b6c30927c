/// One MariaDB server a process may connect to over TCP.
public struct MariaDBEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt32

    public init(host: String, port: UInt32) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Where and how to reach MariaDB. Built once from the settings and shared by every connection.
public struct MariaDBConfiguration: Sendable {
    public var unixSocket: String?
    /// The servers in the operator's order: one server, or the nodes of a Galera cluster. Every
    /// process connects to the first usable one, so that all of them write on the same node.
    /// (Computed, not `didSet`: observers do not run in initializers, and the settings set this in one.)
    public var endpoints: [MariaDBEndpoint] {
        get { endpointList }
        set {
            endpointList = newValue
            nodeHealth = MariaDBNodeHealth(nodeCount: newValue.count)
        }
    }
    private var endpointList: [MariaDBEndpoint]
    /// What this process has learnt of each endpoint; shared by every copy of this configuration.
    public private(set) var nodeHealth: MariaDBNodeHealth
    public var user: String
    public var password: String
    public var database: String
    /// Seconds; bounds how long a request can wait on a dead or stopped server.
    public var connectTimeout: UInt32
    public var readTimeout: UInt32
    public var writeTimeout: UInt32
    /// Per-session `innodb_lock_wait_timeout` in seconds, so no request waits forever on a row lock.
    public var lockWaitTimeout: UInt32
    /// READ COMMITTED instead of the default REPEATABLE READ: for a claimer (the order worker) whose
    /// locking reads must not take gap locks that would block concurrent inserts.
    public var readCommitted = false
    /// Prepared statements one connection keeps (least recently used go first). The server's
    /// `max_prepared_stmt_count` must exceed connections × this (see docs/deployment.md).
    public var statementCacheCapacity = MariaDBConfiguration.defaultStatementCacheCapacity
    public static let defaultStatementCacheCapacity = 64
    /// How long a transaction whose node failed may keep looking for another node before the
    /// failure is reported (seconds, from the first failure).
    public var failoverSeconds: Double = 2

    public init(
        unixSocket: String? = nil, host: String = "localhost", port: UInt32 = 3306,
        user: String = "stockroom", password: String = "", database: String = "stockroom",
        connectTimeout: UInt32 = 2, readTimeout: UInt32 = 10, writeTimeout: UInt32 = 10,
        lockWaitTimeout: UInt32 = 5
    ) {
        self.unixSocket = unixSocket
        self.endpointList = [MariaDBEndpoint(host: host, port: port)]
        self.nodeHealth = MariaDBNodeHealth(nodeCount: 1)
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.writeTimeout = writeTimeout
        self.lockWaitTimeout = lockWaitTimeout
    }

    /// The nodes a connection can go to: the socket alone when one is set.
    var nodeCount: Int { unixSocket == nil ? endpoints.count : 1 }
}
