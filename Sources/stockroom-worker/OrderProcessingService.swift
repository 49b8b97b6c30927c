import Foundation
import Logging
import MariaDB
import StockroomCore
import StockroomRuntime
import Synchronization

/// The worker's loop as a service: batches of pending orders on its own thread (which owns the
/// database session), a reload applied between batches, a shutdown that lets the batch finish.
final class OrderProcessingService: DaemonService, Sendable {
    let name = "order-processing"
    private let startSettings: WorkerSettings
    private let inherited: [String: String]
    private let baseLogger: Logger
    private let logOutput: LogOutput
    private let systemd: SystemdNotifier
    private let requests = LoopRequests()
    private let finished = DispatchSemaphore(value: 0)

    init(settings: WorkerSettings, inherited: [String: String], baseLogger: Logger, logOutput: LogOutput,
         systemd: SystemdNotifier) {
        self.startSettings = settings
        self.inherited = inherited
        self.baseLogger = baseLogger
        self.logOutput = logOutput
        self.systemd = systemd
    }

    func start() {
        let thread = Thread { [self] in
            loop()
            finished.signal()
        }
        thread.name = "order-processing"
        thread.start()
    }

    func reload(signal: String) {
        requests.requestReload(signal: signal)
    }

    func shutdown() {
        baseLogger.info("stopping after the current batch")
        requests.requestStop()
        finished.wait()
    }

    private func loop() {
        MariaDBConnection.initializeThread()
        defer { MariaDBConnection.finishThread() }
        var settings = startSettings
        var logger = baseLogger
        logger.logLevel = settings.logLevel
        var database = MariaDBSession(configuration: settings.database, logger: logger)
        var processor = OrderProcessor(database: database, settings: settings.processor, logger: logger)
        logger.info("started", metadata: ["poll.interval": "\(settings.pollIntervalSeconds)"])
        var lastPing = MonotonicClock.now()
        var lastPurge = -Double.infinity
        var databaseWasDown = false
        var summary = ProcessedSummary(interval: settings.logSummaryIntervalSeconds, now: MonotonicClock.now())
        while !requests.stopRequested {
            // The loop itself is the heartbeat: a wedged loop stops pinging and systemd restarts it.
            if let interval = systemd.watchdogPingInterval, MonotonicClock.now() - lastPing >= interval {
                systemd.notify("WATCHDOG=1")
                lastPing = MonotonicClock.now()
            }
            // Between batches, so a reload never cuts one short.
            if let signal = requests.takeReload() {
                systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(MonotonicClock.microseconds())")
                do {
                    let next = try WorkerSettings(environment: try EnvironmentFile.environment(over: inherited))
                    logger = baseLogger
                    logger.logLevel = next.logLevel
                    database.close()
                    database = MariaDBSession(configuration: next.database, logger: logger)
                    processor = OrderProcessor(database: database, settings: next.processor, logger: logger)
                    settings = next
                    databaseWasDown = false
                    logOutput.summaryInterval = next.logSummaryIntervalSeconds
                    summary.interval = next.logSummaryIntervalSeconds
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
                if MonotonicClock.now() - lastPurge > 60 {
                    try processor.purgeExpired()
                    lastPurge = MonotonicClock.now()
                }
                let processed = try processor.processBatch()
                if databaseWasDown {
                    logger.notice("database reachable again")
                    databaseWasDown = false
                }
                if let (count, seconds) = summary.add(processed, now: MonotonicClock.now()) {
                    // A count on the orders_status index; the line goes without it if that fails.
                    logSummary(count: count, seconds: seconds, backlog: try? processor.pendingCount(), logger: logger)
                }
                if processed == 0 { requests.wait(seconds: settings.pollIntervalSeconds) }
            } catch let error as MariaDBError {
                if !databaseWasDown {
                    logger.warning("database error; retrying", metadata: ["db.error": "\(error.code.rawValue)"])
                }
                databaseWasDown = true
                requests.wait(seconds: 1)
            } catch {
                logger.error("batch failed; retrying", metadata: ["error": "\(error)"])
                requests.wait(seconds: 1)
            }
        }
        if let (count, seconds) = summary.finish(now: MonotonicClock.now()) {
            logSummary(count: count, seconds: seconds, backlog: nil, logger: logger)  // no query on the way out
        }
        database.close()
    }

    /// Besides one line per order: how many in the interval, and how many wait.
    private func logSummary(count: Int, seconds: Double, backlog: Int?, logger: Logger) {
        let interval = LogLineFormat.seconds(seconds)
        var metadata: Logger.Metadata = ["orders.processed": "\(count)", "interval.s": "\(interval)"]
        var message = "processed \(count) \(count == 1 ? "order" : "orders") in the last \(interval) s"
        if let backlog {
            metadata["orders.pending"] = "\(backlog)"
            message += ", backlog \(backlog)"
        }
        logger.info("\(message)", metadata: metadata)
    }
}

/// How many orders were processed since the last summary line, and whether one is due: one per
/// interval while orders are processed, none while there are none (0: never).
struct ProcessedSummary {
    var interval: Double
    private var count = 0
    private var periodStart: Double

    init(interval: Double, now: Double) {
        self.interval = interval
        periodStart = now
    }

    /// Adds a batch; returns the count and the seconds it covers when a line is due.
    mutating func add(_ processed: Int, now: Double) -> (count: Int, seconds: Double)? {
        count += processed
        guard interval > 0, now - periodStart >= interval else { return nil }
        defer {
            count = 0
            periodStart = now
        }
        return count > 0 ? (count, now - periodStart) : nil
    }

    /// At stop: what was processed since the last line, if anything.
    mutating func finish(now: Double) -> (count: Int, seconds: Double)? {
        guard interval > 0, count > 0 else { return nil }
        return (count, now - periodStart)
    }
}

extension WorkerSettings {
    var processor: OrderProcessor.Settings {
        OrderProcessor.Settings(processingDelay: processingDelaySeconds, batchSize: batchSize)
    }
}

/// Set from the signal thread; the loop sleeps on it so a stop or a reload is noticed at once.
final class LoopRequests: Sendable {
    private struct State {
        var stop = false
        var reload: String?
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    var stopRequested: Bool { state.withLock { $0.stop } }

    func requestStop() {
        state.withLock { $0.stop = true }
        wakeup.signal()
    }

    func requestReload(signal: String) {
        state.withLock { $0.reload = signal }
        wakeup.signal()
    }

    /// The signal of a reload asked for since the last call, if any.
    func takeReload() -> String? {
        state.withLock { state in
            defer { state.reload = nil }
            return state.reload
        }
    }

    /// Sleeps up to `seconds`, less when a stop or a reload comes.
    func wait(seconds: Double) {
        if state.withLock({ $0.stop || $0.reload != nil }) { return }
        _ = wakeup.wait(timeout: .now() + seconds)
    }
}
