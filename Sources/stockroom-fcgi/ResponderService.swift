import FastCGI
import Logging
import StockroomHTTP
import StockroomCore
import StockroomRuntime

/// The responder pool as a service: starts the threads, moves them to new settings on a reload
/// without dropping a request, and drains them on shutdown.
final class ResponderService: DaemonService {
    let name = "responders"
    private(set) var settings: ResponderSettings
    private var logger: Logger
    private let baseLogger: Logger
    private let metrics: StockroomMetrics
    private let logOutput: LogOutput
    let pool: ResponderPool
    private let systemd: SystemdNotifier
    private let inherited: [String: String]
    private let socketFlag: String?
    private let threadsFlag: Int?

    init(settings: ResponderSettings, listener: FastCGIListener, application: StockroomApplication,
         baseLogger: Logger, logOutput: LogOutput, metrics: StockroomMetrics, systemd: SystemdNotifier, inherited: [String: String],
         socketFlag: String?, threadsFlag: Int?) {
        self.settings = settings
        self.logger = baseLogger
        self.baseLogger = baseLogger
        self.metrics = metrics
        self.logOutput = logOutput
        self.systemd = systemd
        self.inherited = inherited
        self.socketFlag = socketFlag
        self.threadsFlag = threadsFlag
        pool = ResponderPool(listener: listener, configuration: settings.pool, logger: baseLogger,
                             makeResponder: Self.maker(for: application))
    }

    static func maker(for application: StockroomApplication) -> @Sendable (Int) -> FastCGIResponder {
        { FastCGIAdapter(handler: application.makeRequestHandler(threadIndex: $0)) }
    }

    var status: String {
        "listening on \(settings.socketPath) with \(settings.threadCount) threads (settings generation \(pool.generation))"
    }

    func start() {
        pool.start()
        logger.info("listening", metadata: ["socket": "\(settings.socketPath)", "threads": "\(settings.threadCount)"])
    }

    func shutdown() {
        if !pool.shutdown(timeout: settings.shutdownTimeoutSeconds) {
            logger.warning("stopped with requests still running after the shutdown timeout")
        }
    }

    /// Re-reads the environment file and moves the pool to a new application made from it. Any
    /// failure leaves the running settings in place: a reload never stops the process.
    func reload(signal: String) {
        let started = MonotonicClock.now()
        systemd.notify("RELOADING=1\nMONOTONIC_USEC=\(MonotonicClock.microseconds())")
        defer { systemd.notify("READY=1\nSTATUS=\(status)") }
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
            let application = try StockroomApplication(configuration: next.application, metrics: metrics, logger: nextLogger)
            let generation = pool.reload(configuration: next.pool, logger: nextLogger,
                                         makeResponder: Self.maker(for: application))
            settings = next
            logger = nextLogger
            logOutput.summaryInterval = next.logSummaryIntervalSeconds
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
