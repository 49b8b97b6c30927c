import FastCGI
import Foundation
import Logging
import StockroomRuntime
import Synchronization

/// Pings systemd's watchdog while the pool makes progress or has a thread free; when every thread
/// has been stuck for a whole period, the pings stop and systemd restarts the process. The pool's
/// progress covers every thread whichever settings generation it serves, so it follows reloads.
final class WatchdogService: DaemonService, Sendable {
    let name = "watchdog"
    private let interval: Double
    private let pool: ResponderPool
    private let notifier: SystemdNotifier
    private let logger: Logger
    private let stopped = DispatchSemaphore(value: 0)

    init(interval: Double, pool: ResponderPool, notifier: SystemdNotifier, logger: Logger) {
        self.interval = interval
        self.pool = pool
        self.notifier = notifier
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            var last = pool.progress.completed
            // The semaphore is the sleep: signalled at shutdown, it ends the loop at once.
            while stopped.wait(timeout: .now() + interval) == .timedOut {
                let now = pool.progress
                if now.idleThreads > 0 || now.completed != last {
                    notifier.notify("WATCHDOG=1")
                } else {
                    logger.warning("no responder thread free and no request completed; withholding the watchdog ping")
                }
                last = now.completed
            }
        }
        thread.name = "watchdog"
        thread.start()
    }

    func shutdown() {
        stopped.signal()
    }
}
