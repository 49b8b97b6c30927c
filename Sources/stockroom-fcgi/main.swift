import ArgumentParser
import FastCGI
import Foundation
import Logging
import MariaDB
import Stockroom

/// The FastCGI responder pool: one unix socket, a fixed set of threads, one MariaDB connection each.
struct StockroomFCGI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroom-fcgi",
        abstract: "Stockroom's FastCGI responder pool (behind nginx).",
        discussion: "Configuration comes from STOCKROOM_* environment variables; see the README.")

    @Option(help: "Unix socket to listen on (default: $STOCKROOM_SOCKET or /run/stockroom/fcgi.sock).")
    var socket: String?

    @Option(help: "Responder threads, each with its own database connection (default: $STOCKROOM_THREADS or 32).")
    var threads: Int?

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let settings = try ResponderConfiguration(environment: environment, socketFlag: socket, threadsFlag: threads)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        var logger = Logger(label: "stockroom-fcgi")
        logger[metadataKey: "pid"] = "\(getpid())"

        // Signals are taken by sigwait on this thread only; the pool's threads inherit the mask.
        let shutdownSignals: [Int32] = [SIGTERM, SIGINT]
        ProcessSignals.block(shutdownSignals)

        MariaDBConnection.initializeLibrary()
        let metrics = StockroomMetrics.bootstrap()
        let application = try StockroomApplication(
            configuration: .fromEnvironment(environment), metrics: metrics, logger: logger)
        let listener: FastCGIListener
        do {
            listener = try FastCGIListener(path: settings.socketPath, group: settings.socketGroup)
        } catch {
            logger.critical("cannot listen", metadata: ["socket": "\(settings.socketPath)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let pool = ResponderPool(
            listener: listener,
            configuration: .init(threadCount: settings.threadCount, parameterNames: StockroomApplication.requestParameterNames,
                                 idleTimeout: Double(settings.connectionIdleTimeoutSeconds)),
            logger: logger) {
            FastCGIAdapter(handler: application.makeRequestHandler(threadIndex: $0))
        }
        pool.start()
        logger.info("listening", metadata: ["socket": "\(settings.socketPath)", "threads": "\(settings.threadCount)"])
        let systemd = SystemdNotifier(environment: environment)
        systemd.notify("READY=1\nSTATUS=listening on \(settings.socketPath) with \(settings.threadCount) threads")
        if let interval = systemd.watchdogPingInterval {
            Watchdog.start(interval: interval, pool: pool, notifier: systemd, logger: logger)
        }

        let received = ProcessSignals.wait(for: shutdownSignals)
        logger.info("stopping: finishing in-flight requests", metadata: ["signal": "\(received)"])
        systemd.notify("STOPPING=1")
        let clean = pool.shutdown(timeout: settings.shutdownTimeoutSeconds)
        if clean {
            logger.info("stopped")
        } else {
            logger.warning("stopped with requests still running after the shutdown timeout")
        }
    }
}

StockroomFCGI.main()
