import Logging
import StockroomRuntime
import Synchronization

/// Serves the worker's metrics over loopback HTTP (STOCKROOM_WORKER_METRICS_ADDRESS). A listener
/// that cannot start is logged and left out: orders go on being processed without it.
final class MetricsListenerService: DaemonService, Sendable {
    let name = "metrics-listener"
    private let address: LoopbackAddress
    private let exposition: MetricsExposition
    private let logger: Logger
    private let listener = Mutex<MetricsListener?>(nil)

    init(address: LoopbackAddress, exposition: MetricsExposition, logger: Logger) {
        self.address = address
        self.exposition = exposition
        self.logger = logger
    }

    func start() {
        do {
            let started = try MetricsListener(address: address, exposition: exposition, logger: logger)
            started.start()
            listener.withLock { $0 = started }
            logger.info("metrics listening", metadata: ["metrics.address": "\(started.boundAddress)"])
        } catch {
            logger.error("metrics listener not started; carrying on without it", metadata: [
                "metrics.address": "\(address)", "error": "\(error)",
            ])
        }
    }

    func shutdown() {
        listener.withLock { $0 }?.stop()
    }
}
