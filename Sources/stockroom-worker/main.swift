import ArgumentParser
import Foundation
import Logging
import MariaDB
import StockroomRuntime

/// The background order processor. Between batches it stops on SIGTERM/SIGINT/SIGQUIT (exit 0) and
/// re-reads its settings on SIGHUP/SIGUSR2.
struct StockroomWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroom-worker",
        abstract: "Moves pending orders to processed (FOR UPDATE SKIP LOCKED); purges expired keys.",
        discussion: """
            Configuration: STOCKROOM_DB_*, STOCKROOM_PROCESS_DELAY, STOCKROOM_WORKER_BATCH, \
            STOCKROOM_WORKER_POLL_INTERVAL, STOCKROOM_WORKER_METRICS_ADDRESS, LOG_LEVEL, from the environment and, when STOCKROOM_ENV_FILE \
            names one, from that file (its values win); docs/configuration.md lists them. SIGHUP or \
            SIGUSR2 re-reads them after the current batch.
            """,
        version: "stockroom-worker \(StockroomVersion.current)")

    @Flag(help: ArgumentHelp(
        "Check the configuration as a start would read it, then exit; start nothing.",
        discussion: """
            Reads the settings (the environment, STOCKROOM_ENV_FILE, the password file or credential), connects \
            to every database node, prints one line per check, and exits: 0 all is well, 1 the worker would not \
            start, 2 it would start but a database node did not answer or refused the account.
            """))
    var checkConfig = false

    func run() throws {
        if checkConfig { throw ExitCode(WorkerConfigurationCheck.run()) }
        ProcessSignals.takeOver()  // before any thread: they all inherit the mask
        let (inherited, environment) = EnvironmentFile.startEnvironment(program: "stockroom-worker")
        let settings: WorkerSettings
        do {
            settings = try WorkerSettings(environment: environment)
        } catch {
            // Before logging exists: a bad value stops the start, naming its variable.
            StandardError.write("stockroom-worker: bad settings: \(error)")
            throw ExitCode(1)
        }
        let logOutput = StockroomLogging.bootstrap(level: settings.logLevel, summaryInterval: settings.logSummaryIntervalSeconds)
        defer { logOutput.drain() }  // the counts still held back, after "stopped"
        var logger = Logger(label: "stockroom-worker")
        logger[metadataKey: "pid"] = "\(getpid())"
        MariaDBConnection.initializeLibrary()
        let systemd = SystemdNotifier(environment: inherited)
        let metrics = WorkerMetrics()
        let processing = OrderProcessingService(settings: settings, inherited: inherited, baseLogger: logger, logOutput: logOutput,
                                                systemd: systemd, metrics: metrics)
        var services: [any DaemonService] = []
        if let address = settings.metricsAddress {
            services.append(MetricsListenerService(address: address, exposition: metrics.exposition, logger: logger))
        }
        services.append(processing)
        try ServiceRunner(services: services, systemd: systemd, logger: logger).run()
    }
}

StockroomWorker.main()
