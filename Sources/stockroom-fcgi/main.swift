import ArgumentParser
import FastCGI
import Foundation
import Logging
import MariaDB
import StockroomHTTP
import StockroomCore
import StockroomRuntime

/// The FastCGI responder pool: one unix socket, a fixed set of threads, one MariaDB connection each.
struct StockroomFCGI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroom-fcgi",
        abstract: "Stockroom's FastCGI responder pool (behind nginx).",
        discussion: """
            Configuration comes from STOCKROOM_* environment variables and, when STOCKROOM_ENV_FILE names \
            one, from that file (its values win); docs/configuration.md lists them. SIGHUP or SIGUSR2 re-reads them and \
            moves every thread to the new settings without dropping a request; SIGTERM, SIGINT or \
            SIGQUIT stops gracefully.
            """)

    @Option(help: "Unix socket to listen on (default: $STOCKROOM_SOCKET or /run/stockroom/fcgi.sock).")
    var socket: String?

    @Option(help: "Responder threads, each with its own database connection (default: $STOCKROOM_THREADS or 32).")
    var threads: Int?

    func run() throws {
        // First, before any thread exists: every thread inherits the mask, and sigwait below takes
        // the operator's signals.
        ProcessSignals.takeOver()
        let (inherited, environment) = EnvironmentFile.startEnvironment(program: "stockroom-fcgi")
        let settings: ResponderSettings
        do {
            settings = try ResponderSettings(environment: environment, socketFlag: socket, threadsFlag: threads)
        } catch {
            // Before logging exists: a bad value stops the start, naming its variable.
            StandardError.write("stockroom-fcgi: bad settings: \(error)")
            throw ExitCode(1)
        }
        let logOutput = StockroomLogging.bootstrap(level: settings.logLevel, summaryInterval: settings.logSummaryIntervalSeconds)
        defer { logOutput.drain() }  // the counts still held back, after "stopped"
        var logger = Logger(label: "stockroom-fcgi")
        logger[metadataKey: "pid"] = "\(getpid())"

        MariaDBConnection.initializeLibrary()
        let metrics = StockroomMetrics.bootstrap()
        let application = try StockroomApplication(configuration: settings.application, metrics: metrics, logger: logger)
        let listener: FastCGIListener
        do {
            listener = try FastCGIListener(path: settings.socketPath, group: settings.socketGroup)
        } catch {
            logger.critical("cannot listen", metadata: ["socket": "\(settings.socketPath)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let systemd = SystemdNotifier(environment: inherited)
        let responders = ResponderService(
            settings: settings, listener: listener, application: application, baseLogger: logger, logOutput: logOutput, metrics: metrics,
            systemd: systemd, inherited: inherited, socketFlag: socket, threadsFlag: threads)
        var services: [any DaemonService] = [responders]
        if let interval = systemd.watchdogPingInterval {
            services.append(WatchdogService(interval: interval, pool: responders.pool, notifier: systemd, logger: logger))
        }
        try ServiceRunner(services: services, systemd: systemd, logger: logger, readyStatus: { responders.status }).run()
    }
}

StockroomFCGI.main()
