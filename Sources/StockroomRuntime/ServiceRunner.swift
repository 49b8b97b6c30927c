import Glibc
import Logging

/// A part of a daemon with a start and a graceful stop: the shape of swift-service-lifecycle's
/// services, on threads, since the daemons' work is blocking C calls (accept, Connector/C).
public protocol DaemonService: AnyObject {
    var name: String { get }
    /// Starts the part's threads; returns once it serves.
    func start() throws
    /// SIGHUP or SIGUSR2: re-read the settings. A failure keeps the running ones.
    func reload(signal: String)
    /// Finishes what is in flight and returns when done.
    func shutdown()
}

extension DaemonService {
    public func reload(signal: String) {}
}

/// Runs a daemon's services: starts them in order, tells systemd it is ready, hands the operator's
/// signals to them, and on a stop signal shuts them down in reverse order (so a part is stopped
/// before what it uses).
public struct ServiceRunner {
    private let services: [any DaemonService]
    private let systemd: SystemdNotifier
    private let logger: Logger
    private let readyStatus: () -> String
    private let nextSignal: () -> Int32

    public init(services: [any DaemonService], systemd: SystemdNotifier, logger: Logger,
                readyStatus: @escaping () -> String = { "" },
                nextSignal: @escaping () -> Int32 = { ProcessSignals.wait() }) {
        self.services = services
        self.systemd = systemd
        self.logger = logger
        self.readyStatus = readyStatus
        self.nextSignal = nextSignal
    }

    /// Returns after every service has shut down; throws the first start failure, after shutting
    /// down the services started before it.
    public func run() throws {
        var started: [any DaemonService] = []
        do {
            for service in services {
                try service.start()
                started.append(service)
            }
        } catch {
            logger.critical("start failed", metadata: ["service": "\(services[started.count].name)", "error": "\(error)"])
            shutDown(started)
            throw error
        }
        let status = readyStatus()
        systemd.notify(status.isEmpty ? "READY=1" : "READY=1\nSTATUS=\(status)")
        let stop = waitForStop()
        logger.info("stopping: finishing in-flight work", metadata: ["signal": "\(ProcessSignals.name(of: stop))"])
        systemd.notify("STOPPING=1")
        shutDown(started)
        logger.info("stopped")
    }

    private func waitForStop() -> Int32 {
        while true {
            let signal = nextSignal()
            let name = ProcessSignals.name(of: signal)
            switch ProcessSignals.request(for: signal) {
            case .stop:
                return signal
            case .reload:
                for service in services { service.reload(signal: name) }
            case .reopenLogs:
                logger.notice("nothing to reopen: logs go to stderr", metadata: ["signal": "\(name)"])
            }
        }
    }

    private func shutDown(_ started: [any DaemonService]) {
        for service in started.reversed() {
            let began = MonotonicClock.now()
            service.shutdown()
            logger.debug("service stopped", metadata: [
                "service": "\(service.name)", "duration.ms": "\(Int((MonotonicClock.now() - began) * 1000))",
            ])
        }
    }
}

/// CLOCK_MONOTONIC, for durations and systemd's MONOTONIC_USEC.
public enum MonotonicClock {
    public static func now() -> Double { Double(microseconds()) / 1e6 }

    public static func microseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
    }
}
