import CFastCGI
import Foundation

extension ResponderPool {
    /// How long threads keep serving kept-alive connections after the listener closes: longer than
    /// nginx's upstream `keepalive_timeout` (2 s), so nginx closes its idle connections itself and
    /// never sends a request into one that is being closed.
    public static let keepAliveGrace = 3.0

    /// Stops in order: the socket's name goes first (no new connections), queued connections are
    /// accepted and served, then the listener closes; kept-alive connections are served for
    /// `keepAliveGrace`, then idle threads are woken. Waits up to `timeout` seconds in all for every
    /// thread to end and returns whether they all did.
    public func shutdown(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        listener.stopListening()
        let backlogDeadline = Date().addingTimeInterval(min(1, timeout / 4))
        while listener.hasPendingConnections && Date() < backlogDeadline {
            usleep(5_000)
        }
        shared.withLock { $0.state.stop() }
        listener.stopAccepting()
        let graceEnd = Date().addingTimeInterval(min(Self.keepAliveGrace, timeout / 2))
        while Date() < deadline {
            let afterGrace = Date() >= graceEnd
            let remaining = shared.withLock { shared in
                // After the grace period, threads still waiting on an idle kept-alive connection
                // only notice the stop through a signal.
                if afterGrace { shared.send(Self.interruptSignal, to: shared.state.idleThreads) }
                return shared.state.runningCount
            }
            if remaining == 0 { return true }
            _ = finished.wait(timeout: .now() + .milliseconds(50))
        }
        return shared.withLock { $0.state.runningCount == 0 }
    }

    /// Interrupts threads stuck on a silent peer (`ResponderPoolState.silentPeers`), wakes
    /// threads that a reload's first wake-up missed, and samples the listen queue.
    func monitorIdleConnections() {
        let tick = 0.25
        var last = Self.now()
        while true {
            usleep(UInt32(tick * 1_000_000))
            let now = Self.now()
            let overslept = now - last > tick * 4
            last = now
            let done = shared.withLock { shared in
                if shared.state.stopping && shared.state.runningCount == 0 { return true }
                let stuck = shared.state.silentPeers(now: now, timeout: shared.current.configuration.idleTimeout,
                                                     overslept: overslept, hasPendingInput: Self.hasPendingInput)
                shared.send(Self.interruptSignal, to: stuck)
                shared.wakeAcceptingThreads()
                return false
            }
            if done { return }
            sampleListenQueue()
        }
    }

    /// Data (or end of file) waiting to be read on `fd`.
    private static func hasPendingInput(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents != 0
    }
}
