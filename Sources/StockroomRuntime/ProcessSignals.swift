import Glibc

/// The signals an operator sends (HUP, USR1, USR2, TERM, INT, QUIT) are blocked in every thread and
/// taken synchronously by one thread with sigwait, so no code runs in a signal handler and no signal
/// lands in a random thread's system call. SIGPIPE is ignored: a peer that went away is an error
/// return, never the end of the process.
public enum ProcessSignals {
    /// What an operator's signal asks of a daemon.
    public enum Request: Equatable, Sendable {
        /// TERM, INT, QUIT: finish what is in flight, exit 0.
        case stop
        /// HUP, USR2: re-read the settings and go on with them.
        case reload
        /// USR1 (reopen logs elsewhere): logs go to stderr, there is nothing to reopen.
        case reopenLogs
    }

    public static let handled: [Int32] = [SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT, SIGQUIT]

    public static func request(for signal: Int32) -> Request {
        switch signal {
        case SIGHUP, SIGUSR2: return .reload
        case SIGUSR1: return .reopenLogs
        default: return .stop
        }
    }

    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGHUP: return "SIGHUP"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGTERM: return "SIGTERM"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGPIPE: return "SIGPIPE"
        default: return "signal \(signal)"
        }
    }

    /// First thing in main, before any thread exists: blocks `handled` (the threads started later
    /// inherit the mask) and ignores SIGPIPE.
    public static func takeOver() {
        signal(SIGPIPE, SIG_IGN)
        block(handled)
        // A parent may have left some ignored (bash does for HUP under `trap '' HUP`, and for INT
        // and QUIT in background jobs), and sigwait on an ignored signal is unspecified: give them
        // their default action back. They stay blocked, so the default never acts.
        for signal in handled { Glibc.signal(signal, SIG_DFL) }
    }

    /// Blocks `signals` in the calling thread and the threads it starts afterwards.
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Waits until one of the (blocked) `signals` arrives and returns it.
    public static func wait(for signals: [Int32] = handled) -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        while true {
            var info = siginfo_t()
            let received = sigwaitinfo(&set, &info)
            guard received > 0 else { continue }  // EINTR
            if isCrashHandlerPause(received, info) {
                letHandlerRun(received)
                continue
            }
            return received
        }
    }

    /// The Swift runtime's crash handler stops every other thread before it writes a backtrace, with
    /// SIGUSR1 or SIGUSR2 sent to the thread (tgkill) when its mask, as /proc shows it, lets one
    /// through; a thread in sigwait shows the signals it waits for as unblocked. Taken here, the
    /// signal would never pause this thread, and the crash would wait 2 s per retry before going on.
    private static func isCrashHandlerPause(_ signal: Int32, _ info: siginfo_t) -> Bool {
        // Sent from this process (SI_TKILL, or SI_USER on some kernels): nothing else here sends these.
        (signal == SIGUSR1 || signal == SIGUSR2) && info._sifields._kill.si_pid == getpid()
    }

    /// Sends `signal` to this thread again with it unblocked, so its handler (the crash handler's
    /// pause) runs here. Only when a handler is installed: the default action would end the process.
    private static func letHandlerRun(_ signal: Int32) {
        var action = sigaction()
        sigaction(signal, nil, &action)
        let handler = unsafeBitCast(action.__sigaction_handler.sa_handler, to: Int.self)
        guard handler != 0, handler != 1 else { return }  // SIG_DFL, SIG_IGN
        var one = sigset_t()
        sigemptyset(&one)
        sigaddset(&one, signal)
        pthread_kill(pthread_self(), signal)
        pthread_sigmask(SIG_UNBLOCK, &one, nil)
        pthread_sigmask(SIG_BLOCK, &one, nil)
    }
}
