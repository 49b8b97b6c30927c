import FastCGI
import Foundation
import Logging
import Stockroom
import StockroomRuntime

/// The running settings of the process and what the operator's signals other than a stop do to
/// them: SIGHUP/SIGUSR2 reload, SIGUSR1 is noted.
struct ResponderProcess {
    private(set) var settings: ResponderSettings
    private(set) var logger: Logger
    private let baseLogger: Logger
    private let metrics: StockroomMetrics
    private let pool: ResponderPool
    private let systemd: SystemdNotifier
    private let inherited: [String: String]
    private let socketFlag: String?
    private let threadsFlag: Int?

    init(settings: ResponderSettings, baseLogger: Logger, metrics: StockroomMetrics, pool: ResponderPool,
         systemd: SystemdNotifier, inherited: [String: String], socketFlag: String?, threadsFlag: Int?) {
        self.settings = settings
        self.logger = baseLogger
        self.baseLogger = baseLogger
        self.metrics = metrics
        self.pool = pool
        self.systemd = systemd
        self.inherited = inherited
        self.socketFlag = socketFlag
        self.threadsFlag = threadsFlag
    }

    static func maker(for application: StockroomApplication) -> (Int) -> FastCGIResponder {
        { FastCGIAdapter(handler: application.makeRequestHandler(threadIndex: $0)) }
    }

    static func status(_ settings: ResponderSettings, pool: ResponderPool) -> String {
        "listening on \(settings.socketPath) with \(settings.threadCount) threads (settings generation \(pool.generation))"
    }

    mutating func handle(_ signal: Int32) {
        let name = ProcessSignals.name(of: signal)
        switch ProcessSignals.request(for: signal) {
        case .reload:
            reload(signal: name)
        case .reopenLogs:
            logger.notice("nothing to reopen: logs go to stderr", metadata: ["signal": "\(name)"])
        case .stop:
            break
        }
    }

    /// Re-reads the environment file and moves the pool to a new application made from it. Any
    /// failure leaves the running settings in place: a reload never stops the process.
    private mutating func reload(signal: String) {
        let started = MonotonicClock.now()
        systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(MonotonicClock.monotonicMicroseconds())")
        defer { systemd.notify("READY=1\nSTATUS=\(Self.status(settings, pool: pool))") }
        do {
            let environment = try EnvironmentFile.environment(over: inherited)
            var next = try ResponderSettings(environment: environment, socketFlag: socketFlag, threadsFlag: threadsFlag)
            for change in settings.restartOnlyChanges(to: next) {
                logger.warning("setting changed but needs a restart; keeping the running value", metadata: [
                    "setting": "\(change.name)", "running": "\(change.running)", "new": "\(change.next)",
                ])
            }
            next.socketPath = settings.socketPath
            next.socketGroup = settings.socketGroup
            var nextLogger = baseLogger
            nextLogger.logLevel = next.logLevel
            let application = try StockroomApplication(
                configuration: next.application, metrics: metrics, logger: nextLogger)
            let generation = pool.reload(configuration: next.pool, logger: nextLogger,
                                         makeResponder: Self.maker(for: application))
            settings = next
            logger = nextLogger
            logger.notice("reloaded: new requests get the new settings", metadata: [
                "signal": "\(signal)", "generation": "\(generation)", "threads": "\(next.threadCount)",
                "reload.ms": "\(Int((MonotonicClock.now() - started) * 1000))",
            ])
        } catch {
            logger.error("reload failed; carrying on with the running settings", metadata: [
                "signal": "\(signal)", "error": "\(error)",
            ])
        }
    }
}

enum MonotonicClock {
    static func now() -> Double { Double(monotonicMicroseconds()) / 1e6 }

    static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}
