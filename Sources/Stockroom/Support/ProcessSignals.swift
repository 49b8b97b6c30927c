import Glibc

/// Shutdown signals are blocked in every thread and taken synchronously by one thread with sigwait,
/// so no code runs in a signal handler.
public enum ProcessSignals {
    /// Blocks `signals` in the calling thread and the threads it starts afterwards.
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits until one of the (blocked) `signals` arrives and returns it.
    public static func wait(for signals: [Int32]) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }
}
