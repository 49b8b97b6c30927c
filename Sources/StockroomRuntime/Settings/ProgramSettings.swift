import Logging
import MariaDB

/// What each program reads, built by one `SettingsReader` so every value follows the same rules.
/// A daemon builds its settings at start (a problem stops it) and again on every reload (a problem
/// keeps the running settings).
extension MariaDBConfiguration {
    init(reading reader: inout SettingsReader) {
        self.init()
        unixSocket = reader.optionalText(.databaseSocket)
        let port = UInt32(reader.integer(.databasePort, in: 1...65535))
        endpoints = reader.endpoints(.databaseHosts, defaultPort: port)
            ?? [MariaDBEndpoint(host: reader.text(.databaseHost), port: port)]
        user = reader.text(.databaseUser)
        password = reader.text(.databasePassword)
        database = reader.text(.databaseName)
        let timeout = UInt32(reader.integer(.databaseTimeout, in: 1...86_400))
        readTimeout = timeout
        writeTimeout = timeout
        lockWaitTimeout = UInt32(reader.integer(.lockWaitTimeout, in: 1...3600))
        statementCacheCapacity = reader.integer(.statementCache, in: 1...1024)
    }
}

/// stockroom-fcgi. The socket flag and the threads flag win over their variables.
public struct ResponderSettings: Sendable {
    public var logLevel: Logger.Level
    public var logSummaryIntervalSeconds: Double
    public var socketPath: String
    public var socketGroup: String?
    public var threadCount: Int
    public var shutdownTimeoutSeconds: Double
    public var connectionIdleTimeoutSeconds: Int
    public var sessionLifetimeSeconds: Int64
    public var testHooksEnabled: Bool
    /// Hundredths of a percent (13.00% is 1300).
    public var taxRateBasisPoints: Int64
    public var deliveryFeeCents: Int64
    public var freeDeliveryFromCents: Int64?
    public var database: MariaDBConfiguration

    public init(environment: [String: String], socketFlag: String? = nil, threadsFlag: Int? = nil) throws {
        var reader = SettingsReader(environment: environment)
        logLevel = reader.logLevel(.logLevel)
        logSummaryIntervalSeconds = reader.seconds(.logSummaryInterval, in: 0...3600)
        socketPath = socketFlag.flatMap { $0.isEmpty ? nil : $0 } ?? reader.text(.socket)
        socketGroup = reader.optionalText(.socketGroup)
        let threadRange = 1...1024
        threadCount = threadsFlag.map { reader.check($0, flag: "--threads", in: threadRange) }
            ?? reader.integer(.threads, in: threadRange)
        shutdownTimeoutSeconds = reader.seconds(.shutdownTimeout, in: 0...3600)
        connectionIdleTimeoutSeconds = reader.integer(.idleTimeout, in: 1...3600)
        sessionLifetimeSeconds = Int64(reader.integer(.sessionLifetime, in: 1...31_536_000))
        testHooksEnabled = reader.flag(.testHooks)
        let money = "money from 0.00 to 99999999.99 with at most two decimals"
        taxRateBasisPoints = reader.hundredths(.taxRate, in: 0...10_000, expected: "a percent from 0 to 100 with at most two decimals") ?? 0
        deliveryFeeCents = reader.hundredths(.deliveryFee, in: 0...9_999_999_999, expected: money) ?? 0
        freeDeliveryFromCents = reader.hundredths(.freeDeliveryFrom, in: 0...9_999_999_999, expected: money)
        database = MariaDBConfiguration(reading: &reader)
        try reader.finish()
    }

    /// The settings a running process cannot take over (the socket is bound once, and a reload
    /// never rebinds it), as (variable, running value, new value).
    public func restartOnlyChanges(to next: ResponderSettings) -> [(name: String, running: String, next: String)] {
        var changes: [(String, String, String)] = []
        if next.socketPath != socketPath { changes.append((Setting.socket.name, socketPath, next.socketPath)) }
        if next.socketGroup != socketGroup {
            changes.append((Setting.socketGroup.name, socketGroup ?? "(none)", next.socketGroup ?? "(none)"))
        }
        return changes
    }
}

/// stockroom-worker; all of it can change on a reload.
public struct WorkerSettings: Sendable {
    public var logLevel: Logger.Level
    public var logSummaryIntervalSeconds: Double
    public var pollIntervalSeconds: Double
    public var processingDelaySeconds: Double
    public var batchSize: Int
    public var database: MariaDBConfiguration

    public init(environment: [String: String]) throws {
        var reader = SettingsReader(environment: environment)
        logLevel = reader.logLevel(.logLevel)
        logSummaryIntervalSeconds = reader.seconds(.logSummaryInterval, in: 0...3600)
        pollIntervalSeconds = reader.seconds(.workerPollInterval, in: 0.01...3600)
        processingDelaySeconds = reader.seconds(.processDelay, in: 0...3600)
        batchSize = reader.integer(.workerBatch, in: 1...1000)
        database = MariaDBConfiguration(reading: &reader)
        // The claim's FOR UPDATE would otherwise gap-lock the orders_status index and hold up new orders.
        database.readCommitted = true
        try reader.finish()
    }
}

/// stockroomctl: the database, and where the migrations are.
public struct OperatorSettings: Sendable {
    public var database: MariaDBConfiguration
    public var migrationsDirectory: String?

    public init(environment: [String: String]) throws {
        var reader = SettingsReader(environment: environment)
        database = MariaDBConfiguration(reading: &reader)
        migrationsDirectory = reader.optionalText(.migrationsDirectory)
        try reader.finish()
    }
}
