import ArgumentParser
import Foundation
import Logging
import MariaDB
import Stockroom

/// The background order processor. Stops between batches on SIGTERM/SIGINT and exits 0.
struct StockroomWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroom-worker",
        abstract: "Moves pending orders to processed (FOR UPDATE SKIP LOCKED); purges expired keys.",
        discussion: "Configuration: STOCKROOM_DB_*, STOCKROOM_PROCESS_DELAY, STOCKROOM_WORKER_BATCH, STOCKROOM_WORKER_POLL_INTERVAL, LOG_LEVEL.")

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let level = Logger.Level(rawValue: environment["LOG_LEVEL"]?.lowercased() ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "stockroom-worker")
        logger[metadataKey: "pid"] = "\(getpid())"
        let pollInterval = environment["STOCKROOM_WORKER_POLL_INTERVAL"].flatMap(Double.init).map { max(0.01, $0) } ?? 0.2

        let stopRequested = ShutdownFlag()
        ProcessSignals.block([SIGTERM, SIGINT])
        let signalLogger = logger
        let waiter = Thread {
            let signal = ProcessSignals.wait(for: [SIGTERM, SIGINT])
            signalLogger.info("stopping after the current batch", metadata: ["signal": "\(signal)"])
            stopRequested.set()
        }
        waiter.start()

        MariaDBConnection.initializeLibrary()
        MariaDBConnection.initializeThread()
        var databaseConfiguration = MariaDBConfiguration.fromEnvironment(environment)
        // The claim's FOR UPDATE would otherwise gap-lock the orders_status index and hold up new orders.
        databaseConfiguration.readCommitted = true
        let database = MariaDBSession(configuration: databaseConfiguration, logger: logger)
        let processor = OrderProcessor(database: database, settings: .fromEnvironment(environment), logger: logger)
        logger.info("started", metadata: ["poll.interval": "\(pollInterval)"])
        let systemd = SystemdNotifier(environment: environment)
        systemd.notify("READY=1")
        var lastPing = Date()
        var lastPurge = Date.distantPast
        var databaseWasDown = false
        while !stopRequested.isSet {
            // The loop itself is the heartbeat: a wedged loop stops pinging and systemd restarts it.
            if let interval = systemd.watchdogPingInterval, Date().timeIntervalSince(lastPing) >= interval {
                systemd.notify("WATCHDOG=1")
                lastPing = Date()
            }
            do {
                if Date().timeIntervalSince(lastPurge) > 60 {
                    try processor.purgeExpired()
                    lastPurge = Date()
                }
                let processed = try processor.processBatch()
                if databaseWasDown {
                    logger.notice("database reachable again")
                    databaseWasDown = false
                }
                if processed == 0 { stopRequested.wait(seconds: pollInterval) }
            } catch let error as MariaDBError {
                if !databaseWasDown {
                    logger.warning("database error; retrying", metadata: ["db.error": "\(error.code.rawValue)"])
                }
                databaseWasDown = true
                stopRequested.wait(seconds: 1)
            }
        }
        systemd.notify("STOPPING=1")
        database.close()
        logger.info("stopped")
    }
}

/// Set once by the signal thread; the main loop sleeps on it so a stop is noticed at once.
final class ShutdownFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var value = false

    var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return value
    }

    func set() {
        condition.lock()
        value = true
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) {
        condition.lock()
        if !value { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        condition.unlock()
    }
}

StockroomWorker.main()
