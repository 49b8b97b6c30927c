import FastCGI
import Foundation
import Logging
import Stockroom
import StockroomRuntime

/// Pings systemd's watchdog while the pool makes progress or has a thread free; when every thread
/// has been stuck for a whole period, the pings stop and systemd restarts the process. The pool's
/// progress covers every thread whichever settings generation it serves, so it follows reloads.
enum Watchdog {
    static func start(interval: Double, pool: ResponderPool, notifier: SystemdNotifier, logger: Logger) {
        let thread = Thread {
            var last = pool.progress.completed
            while true {
                Thread.sleep(forTimeInterval: interval)
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
}
