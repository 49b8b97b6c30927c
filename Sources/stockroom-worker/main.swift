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
            STOCKROOM_WORKER_POLL_INTERVAL, LOG_LEVEL, from the environment and, when STOCKROOM_ENV_FILE \
            names one, from that file (its values win); docs/configuration.md lists them. SIGHUP or \
            SIGUSR2 re-reads them after the current batch.
            """)

    func run() throws {
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
        let processing = OrderProcessingService(settings: settings, inherited: inherited, baseLogger: logger, logOutput: logOutput,
                                                systemd: systemd)
        try ServiceRunner(services: [processing], systemd: systemd, logger: logger).run()
    }
}

StockroomWorker.main()
