/// One configuration variable as an operator sees it: its name, its default, who reads it and what
/// it means. `Setting.all` is the catalogue; docs/configuration.md's table is rendered from it and
/// a unit test keeps the two (and systemd/stockroom.env.example) in step.
public struct Setting: Sendable, Hashable {
    public enum Program: String, Sendable, CaseIterable {
        case responder = "stockroom-fcgi"
        case worker = "stockroom-worker"
        case operatorTool = "stockroomctl"
    }

    public let name: String
    /// As the docs show it; empty when unset means "none".
    public let defaultText: String
    public let programs: [Program]
    public let meaning: String
    /// Never echoed in an error: a password.
    public let isSecret: Bool

    init(_ name: String, default defaultText: String, _ programs: [Program], secret: Bool = false, _ meaning: String) {
        self.name = name
        self.defaultText = defaultText
        self.programs = programs
        self.meaning = meaning
        self.isSecret = secret
    }
}

extension Setting {
    private static let daemons: [Program] = [.responder, .worker]
    private static let everyProgram: [Program] = Program.allCases

    public static let environmentFile = Setting(
        EnvironmentFile.variable, default: "", daemons,
        "A `NAME=value` file (blank lines, `#` comments, optional `export `, values plain or quoted) read at start and on every reload (SIGHUP/SIGUSR2); its values win over the environment. The units set `/etc/stockroom/stockroom.env`. Unreadable or unparsable: no start, and a reload keeps the running settings.")
    public static let logLevel = Setting(
        "LOG_LEVEL", default: "info", daemons,
        "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical` (any case). Logs go to stderr, that is to the journal.")
    public static let logSummaryInterval = Setting(
        "LOG_SUMMARY_INTERVAL", default: "10", daemons,
        "Seconds (0 to 3600, decimals allowed). A warning or error repeated within it (same message, level and metadata but the request id) is written once, then counted: one line per interval gives the count, and a last one the total once a whole interval passes without it. The worker writes its processed-orders summary at this interval. `0`: every line is written and no summary.")

    public static let socket = Setting(
        "STOCKROOM_SOCKET", default: "/run/stockroom/fcgi.sock", [.responder],
        "Unix socket to listen on (the `--socket` flag wins), created with mode 0660. A reload keeps the bound socket: restart to change it.")
    public static let socketGroup = Setting(
        "STOCKROOM_SOCKET_GROUP", default: "", [.responder],
        "Group the socket is given, so that nginx can connect (unset: the process's group). Restart to change it.")
    public static let threads = Setting(
        "STOCKROOM_THREADS", default: "32", [.responder],
        "Responder threads per process, 1 to 1024 (the `--threads` flag wins); each owns one MariaDB connection.")
    public static let shutdownTimeout = Setting(
        "STOCKROOM_SHUTDOWN_TIMEOUT", default: "10", [.responder],
        "Seconds (0 to 3600, decimals allowed) the whole graceful stop may take after SIGTERM (the backlog, the keep-alive grace, in-flight requests); then it logs a warning and exits 0. Keep the unit's `TimeoutStopSec` (20 s) about 10 s above it.")
    public static let idleTimeout = Setting(
        "STOCKROOM_IDLE_TIMEOUT", default: "3", [.responder],
        "Whole seconds (1 to 3600) a responder thread waits on a silent FastCGI peer (half a request, a stalled body, an idle kept-alive connection) before dropping the connection. Must exceed nginx's upstream `keepalive_timeout` (2 s).")
    public static let sessionLifetime = Setting(
        "STOCKROOM_SESSION_TTL", default: "86400", [.responder],
        "Session (bearer token) lifetime in seconds, 1 to 31536000.")
    public static let testHooks = Setting(
        "STOCKROOM_TEST_HOOKS", default: "0", [.responder],
        "**Test only.** `1` honours the `X-Stockroom-Test-Lock-Delay-Ms` request header (an order sleeps up to 60 s holding its row locks; the fault suite uses it); `0` ignores it. Never 1 in production: any client could hold product rows.")

    public static let taxRate = Setting(
        "STOCKROOM_TAX_RATE", default: "0", [.responder],
        "The store's tax rate in percent, 0 to 100 with at most two decimals (`13`, `7.25`): `tax` = (subtotal − discount + delivery) × rate / 100, half up to the cent.")
    public static let deliveryFee = Setting(
        "STOCKROOM_DELIVERY_FEE", default: "0.00", [.responder],
        "Delivery charged on a non-empty cart or order, money (0.00 to 99999999.99, at most two decimals).")
    public static let freeDeliveryFrom = Setting(
        "STOCKROOM_FREE_DELIVERY_FROM", default: "", [.responder],
        "Money: delivery is free when subtotal − discount reaches it. Unset: never free.")

    public static let databaseSocket = Setting(
        "STOCKROOM_DB_SOCKET", default: "", everyProgram,
        "MariaDB's unix socket; when set, `STOCKROOM_DB_HOSTS`, `STOCKROOM_DB_HOST` and `STOCKROOM_DB_PORT` are not used.")
    public static let databaseHosts = Setting(
        "STOCKROOM_DB_HOSTS", default: "", everyProgram,
        "The nodes of a Galera cluster, `host:port,host:port,...` in the same order on every host (1 to 16; `[v6addr]:port`; a port left out is `STOCKROOM_DB_PORT`). Every process writes on the first node that is synced and in the primary component, and moves to the next one when it fails (docs/cluster.md). When set, `STOCKROOM_DB_HOST` is not used.")
    public static let databaseHost = Setting(
        "STOCKROOM_DB_HOST", default: "localhost", everyProgram, "MariaDB host. Connector/C reads `localhost` as its default unix socket; use `127.0.0.1` for TCP.")
    public static let databasePort = Setting(
        "STOCKROOM_DB_PORT", default: "3306", everyProgram, "MariaDB TCP port, 1 to 65535.")
    public static let databaseUser = Setting(
        "STOCKROOM_DB_USER", default: "stockroom", everyProgram, "MariaDB user.")
    public static let databasePassword = Setting(
        "STOCKROOM_DB_PASSWORD", default: "", everyProgram, secret: true, "MariaDB password.")
    public static let databaseName = Setting(
        "STOCKROOM_DB_NAME", default: "stockroom", everyProgram, "Database (schema) name.")
    public static let databaseTimeout = Setting(
        "STOCKROOM_DB_TIMEOUT", default: "10", everyProgram,
        "Read and write timeout in seconds, 1 to 86400 (the connect timeout is fixed at 2 s): the longest a statement waits on a hung MariaDB.")
    public static let lockWaitTimeout = Setting(
        "STOCKROOM_LOCK_WAIT_TIMEOUT", default: "5", everyProgram,
        "`innodb_lock_wait_timeout` of every session, seconds (1 to 3600): the longest one statement waits for a row lock before the transaction is retried (4 attempts, then 503 `busy`).")
    public static let statementCache = Setting(
        "STOCKROOM_DB_STATEMENT_CACHE", default: "64", everyProgram,
        "Prepared statements each database connection keeps, 1 to 1024 (least recently used are closed first). MariaDB's `max_prepared_stmt_count` must exceed connections × this.")

    public static let processDelay = Setting(
        "STOCKROOM_PROCESS_DELAY", default: "0", [.worker],
        "Seconds (0 to 3600, decimals allowed) of simulated work per order; the claimed orders stay locked meanwhile.")
    public static let workerBatch = Setting(
        "STOCKROOM_WORKER_BATCH", default: "10", [.worker], "Pending orders claimed per transaction, 1 to 1000.")
    public static let workerPollInterval = Setting(
        "STOCKROOM_WORKER_POLL_INTERVAL", default: "0.2", [.worker],
        "Seconds (0.01 to 3600, decimals allowed) between polls while no order is pending: the longest a new order waits to be picked up.")

    public static let migrationsDirectory = Setting(
        "STOCKROOM_SQL_DIR", default: "", [.operatorTool],
        "Migrations folder for `stockroomctl migrate` (the `--sql-dir` flag wins); unset: `./sql` if it exists, else `/usr/share/stockroom/sql`.")

    /// Every setting, in the order the docs list them.
    public static let all: [Setting] = [
        environmentFile, logLevel, logSummaryInterval,
        socket, socketGroup, threads, shutdownTimeout, idleTimeout, sessionLifetime, testHooks,
        taxRate, deliveryFee, freeDeliveryFrom,
        databaseSocket, databaseHosts, databaseHost, databasePort, databaseUser, databasePassword, databaseName,
        databaseTimeout, lockWaitTimeout, statementCache,
        processDelay, workerBatch, workerPollInterval,
        migrationsDirectory,
    ]

    /// The docs' table (docs/configuration.md, between its `settings:` markers).
    public static func markdownTable() -> String {
        var lines = ["| Variable | Default | Read by | Meaning |", "|---|---|---|---|"]
        for setting in all {
            let programs = setting.programs.map(\.rawValue).joined(separator: ", ")
            let value = setting.defaultText.isEmpty ? "(none)" : "`\(setting.defaultText)`"
            lines.append("| `\(setting.name)` | \(value) | \(programs) | \(setting.meaning) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
