import ArgumentParser
import Foundation
import Logging
import MariaDB
import Stockroom
import StockroomRuntime

/// The background order processor. Between batches it stops on SIGTERM/SIGINT/SIGQUIT (exit 0) and
/// re-reads its settings on SIGHUP/SIGUSR2.
struct StockroomWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroom-worker",
        abstract: "Moves pending orders to processed (FOR UPDATE SKIP LOCKED); purges expired keys.",
        discussion: """
            Configuration: STOCKROOM_DB_*, STOCKROOM_PROCESS_DELAY, STOCKROOM_WORKER_BATCH, \
            STOCKROOM_WORKER_POLL_INTERVAL, LOG_LEVEL, from the environment and, when STOCKROOM_ENV_FILE \
            names one, from that file (its values win). SIGHUP or SIGUSR2 re-reads them after the \
            current batch.
            """)

    func run() throws {
        ProcessSignals.takeOver()  // before any thread: they all inherit the mask
        let (inherited, environment) = EnvironmentFile.startEnvironment(program: "stockroom-worker")
        var settings: WorkerSettings
        do {
            settings = try WorkerSettings(environment: environment)
        } catch {
            // Before logging exists: a bad value stops the start, naming its variable.
            fputs("stockroom-worker: bad settings: \(error)\n", stderr)
            throw ExitCode(1)
        }
        let startLevel = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = startLevel
            return handler
        }
        var baseLogger = Logger(label: "stockroom-worker")
        baseLogger[metadataKey: "pid"] = "\(getpid())"
        var logger = baseLogger

        let requests = SignalRequests()
        let signalLogger = logger
        let waiter = Thread {
            while true {
                let signal = ProcessSignals.wait()
                let name = ProcessSignals.name(of: signal)
                switch ProcessSignals.request(for: signal) {
                case .stop:
                    signalLogger.info("stopping after the current batch", metadata: ["signal": "\(name)"])
                    requests.requestStop()
                    return
                case .reload:
                    requests.requestReload(signal: name)
                case .reopenLogs:
                    signalLogger.notice("nothing to reopen: logs go to stderr", metadata: ["signal": "\(name)"])
                }
            }
        }
        waiter.start()

        MariaDBConnection.initializeLibrary()
        MariaDBConnection.initializeThread()
        var database = MariaDBSession(configuration: settings.database, logger: logger)
        var processor = OrderProcessor(database: database, settings: settings.processor, logger: logger)
        logger.info("started", metadata: ["poll.interval": "\(settings.pollIntervalSeconds)"])
        let systemd = SystemdNotifier(environment: inherited)
        systemd.notify("READY=1")
        var lastPing = Date()
        var lastPurge = Date.distantPast
        var databaseWasDown = false
        while !requests.stopRequested {
            // The loop itself is the heartbeat: a wedged loop stops pinging and systemd restarts it.
            if let interval = systemd.watchdogPingInterval, Date().timeIntervalSince(lastPing) >= interval {
                systemd.notify("WATCHDOG=1")
                lastPing = Date()
            }
            // Between batches, so a reload never cuts one short.
            if let signal = requests.takeReload() {
                systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
                do {
                    let next = try WorkerSettings(environment: try EnvironmentFile.environment(over: inherited))
                    logger = baseLogger
                    logger.logLevel = next.logLevel
                    database.close()
                    database = MariaDBSession(configuration: next.database, logger: logger)
                    processor = OrderProcessor(database: database, settings: next.processor, logger: logger)
                    settings = next
                    databaseWasDown = false
                    logger.notice("reloaded", metadata: [
                        "signal": "\(signal)", "poll.interval": "\(settings.pollIntervalSeconds)",
                        "batch": "\(settings.batchSize)", "process.delay": "\(settings.processingDelaySeconds)",
                    ])
                } catch {
                    logger.error("reload failed; carrying on with the running settings", metadata: [
                        "signal": "\(signal)", "error": "\(error)",
                    ])
                }
                systemd.notify("READY=1")
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
                if processed == 0 { requests.wait(seconds: settings.pollIntervalSeconds) }
            } catch let error as MariaDBError {
                if !databaseWasDown {
                    logger.warning("database error; retrying", metadata: ["db.error": "\(error.code.rawValue)"])
                }
                databaseWasDown = true
                requests.wait(seconds: 1)
            }
        }
        systemd.notify("STOPPING=1")
        database.close()
        logger.info("stopped")
    }

    static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}

extension WorkerSettings {
    var processor: OrderProcessor.Settings {
        OrderProcessor.Settings(processingDelay: processingDelaySeconds, batchSize: batchSize)
    }
}

/// Set by the signal thread; the main loop sleeps on it so a stop or a reload is noticed at once.
final class SignalRequests: @unchecked Sendable {
    private let condition = NSCondition()
    private var stop = false
    private var reload: String?

    var stopRequested: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stop
    }

    func requestStop() {
        condition.lock()
        stop = true
        condition.broadcast()
        condition.unlock()
    }

    func requestReload(signal: String) {
        condition.lock()
        reload = signal
        condition.broadcast()
        condition.unlock()
    }

    /// The signal of a reload asked for since the last call, if any.
    func takeReload() -> String? {
        condition.lock()
        defer { condition.unlock() }
        let signal = reload
        reload = nil
        return signal
    }

    func wait(seconds: Double) {
        condition.lock()
        if !stop && reload == nil { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        condition.unlock()
    }
}

StockroomWorker.main()
