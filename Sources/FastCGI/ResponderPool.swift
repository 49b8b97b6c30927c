import CFastCGI
import Foundation
import Logging
import PthreadLock

/// Answers requests on one thread; the pool makes one per thread, on that thread, so whatever it
/// owns (a database connection) is only ever used there.
public protocol FastCGIResponder: AnyObject {
    func respond(to request: FastCGIRequest) -> FastCGIResponse
    /// Called on the responder's thread after its last request.
    func finish()
}

/// A fixed pool of threads that each accept connections and read their requests on their own: no
/// global accept mutex, so a thread pinned to an idle kept-alive nginx connection never holds up the others.
/// `reload` replaces the responders (and the thread count) without closing a connection.
public final class ResponderPool: Sendable {
    public struct Configuration: Sendable {
        public var threadCount: Int
        public var maxBodyBytes: Int
        /// The FastCGI parameters the application reads; only these are copied out of the records
        /// (nil: all). Copying ~35 nginx parameters into a dictionary was a third of a request's cost.
        public var parameterNames: Set<String>?
        /// Seconds a thread may wait on a silent peer (half a request, a body that stops, a reader
        /// that does not read) before it is interrupted and the connection dropped. Must exceed
        /// nginx's upstream keepalive_timeout (2 s), which closes idle kept-alive connections first.
        public var idleTimeout: Double

        public init(threadCount: Int, maxBodyBytes: Int = 64 * 1024, parameterNames: Set<String>? = nil,
                    idleTimeout: Double = 3) {
            self.threadCount = threadCount
            self.maxBodyBytes = maxBodyBytes
            self.parameterNames = parameterNames
            self.idleTimeout = idleTimeout
        }
    }

    /// What a reload replaces: the settings, the logger and the responders made from them.
    final class Generation: Sendable {
        let configuration: Configuration
        let logger: Logger
        let makeResponder: @Sendable (Int) -> FastCGIResponder
        /// `parameterNames` as bytes, for matching names without making Strings.
        let wantedNames: FastCGIParameterNames?

        init(configuration: Configuration, logger: Logger, makeResponder: @escaping @Sendable (Int) -> FastCGIResponder) {
            assert(configuration.parameterNames.map { $0.contains("CONTENT_LENGTH") } ?? true, "the pool needs CONTENT_LENGTH")
            self.configuration = configuration
            self.logger = logger
            self.makeResponder = makeResponder
            self.wantedNames = configuration.parameterNames.map(FastCGIParameterNames.init)
        }
    }

    /// Interrupts a thread stuck reading or writing (idle monitor, end of a stop).
    static let interruptSignal = stockroom_interrupt_signal()
    /// Wakes a thread from accept() to pick up a reload; blocked everywhere else.
    static let wakeupSignal = stockroom_wakeup_signal()

    /// What the threads share, behind one lock: the bookkeeping (a pure value), the threads' ids and
    /// the generation they serve.
    struct Shared {
        var state = ResponderPoolState()
        /// Set by each thread when it starts, cleared when it ends: a pthread_t is never signalled
        /// after its thread is gone (a new thread may be given the same id).
        var threadIDs: [pthread_t?] = []
        var current: Generation

        /// Makes the slots for `generation`'s thread count; returns the slots that need a thread.
        mutating func install(_ generation: Generation) -> [Int] {
            let slots = state.install(threadCount: generation.configuration.threadCount, now: ResponderPool.now())
            if threadIDs.count < state.slots.count {
                threadIDs += Array(repeating: nil, count: state.slots.count - threadIDs.count)
            }
            return slots
        }

        /// A thread between its unblock and accept() misses this; the idle monitor sends it again
        /// every tick until the thread has moved.
        func wakeAcceptingThreads() {
            send(ResponderPool.wakeupSignal, to: state.wakeTargets)
        }

        func send(_ signal: Int32, to slots: [Int]) {
            for index in slots {
                if let thread = threadIDs[index] { pthread_kill(thread, signal) }
            }
        }
    }

    let listener: FastCGIListener
    let shared: PthreadLock<Shared>
    let finished = DispatchSemaphore(value: 0)

    public init(listener: FastCGIListener, configuration: Configuration, logger: Logger,
                makeResponder: @escaping @Sendable (Int) -> FastCGIResponder) {
        self.listener = listener
        self.shared = PthreadLock(Shared(current: Generation(configuration: configuration, logger: logger,
                                                       makeResponder: makeResponder)))
    }

    public func start() {
        stockroom_install_empty_handler(Self.interruptSignal)
        stockroom_install_empty_handler(Self.wakeupSignal)
        let slots = shared.withLock { $0.install($0.current) }
        startThreads(slots)
        let monitor = Thread { [self] in self.monitorIdleConnections() }
        monitor.name = "idle-monitor"
        monitor.start()
    }

    /// Makes responders with `makeResponder` from now on. Each thread finishes the request it is
    /// serving with the responder it holds, then finishes that responder (closing its database
    /// connection) and makes a new one; threads waiting in accept() are woken for it, and the
    /// connections threads serve stay open. Grows or shrinks the pool to the new thread count (a
    /// surplus thread serving a kept-alive connection ends with that connection). Returns the new
    /// generation's number; 0 when the pool is stopping.
    @discardableResult
    public func reload(configuration: Configuration, logger: Logger,
                       makeResponder: @escaping @Sendable (Int) -> FastCGIResponder) -> Int {
        let generation = Generation(configuration: configuration, logger: logger, makeResponder: makeResponder)
        let installed: (number: Int, slots: [Int])? = shared.withLock { shared in
            guard !shared.state.stopping else { return nil }
            shared.current = generation
            let slots = shared.install(generation)
            shared.wakeAcceptingThreads()
            return (shared.state.generation, slots)
        }
        guard let installed else { return 0 }
        startThreads(installed.slots)
        return installed.number
    }

    private func startThreads(_ slots: [Int]) {
        for index in slots {
            let thread = Thread { [self] in self.serve(slot: index) }
            thread.name = "responder-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Requests completed so far and threads waiting for work: a pool that shows neither
    /// progress nor an idle thread for a whole watchdog period is wedged.
    public var progress: (completed: UInt64, idleThreads: Int) {
        shared.withLock { ($0.state.completedRequests, $0.state.idleCount) }
    }

    /// The current generation's number (1 before any reload).
    public var generation: Int {
        shared.withLock { $0.state.generation }
    }

    private func enter(_ phase: ResponderPoolState.Phase, _ index: Int) {
        let now = Self.now()
        shared.withLock { $0.state.enter(phase, index, now: now) }
    }

    /// The top of a thread's loop: idle on `connection` (-1: about to accept), and what to do next.
    private func boundary(_ index: Int, connection: Int32) -> (ResponderPoolState.Next, Generation) {
        let now = Self.now()
        let (next, generation, rollover) = shared.withLock { shared in
            shared.state.enter(.idle, index, connection: connection, now: now)
            let next = shared.state.next(index)
            let rollover = next == .carryOn ? nil : shared.state.finishRollover(now: now)
            if next == .exit { shared.threadIDs[index] = nil }
            return (next, shared.current, rollover)
        }
        if let rollover { logRollover(rollover, generation: generation) }
        return (next, generation)
    }

    /// A request was read whole: the thread handles it, with the current generation if it changed meanwhile.
    private func startServing(_ index: Int) -> Generation? {
        let now = Self.now()
        let (newer, rollover) = shared.withLock { shared in
            shared.state.enter(.handling, index, now: now)
            let newer = shared.state.switchBeforeServing(index) ? shared.current : nil
            return (newer, newer == nil ? nil : shared.state.finishRollover(now: now))
        }
        if let rollover, let newer { logRollover(rollover, generation: newer) }
        return newer
    }

    private func logRollover(_ seconds: Double, generation: Generation) {
        generation.logger.notice("reload complete: every thread serves the new settings", metadata: [
            "rollover.ms": "\(Int(seconds * 1000))", "threads": "\(generation.configuration.threadCount)",
        ])
    }

    /// On the thread: the old responder's database connection closes before the new one's opens.
    private func replace(_ responder: FastCGIResponder, with generation: Generation, slot: Int) -> FastCGIResponder {
        responder.finish()
        return generation.makeResponder(slot)
    }

    private func serve(slot index: Int) {
        stockroom_block_in_thread(Self.wakeupSignal)
        // Woken by nginx (a request) or MariaDB (a result), a responder waits for them to block
        // instead of preempting them: fewer context switches per request (benchmarks.md).
        _ = stockroom_schedule_batch()
        var generation = shared.withLock { shared in
            shared.threadIDs[index] = pthread_self()
            shared.state.threadStarted(index)
            return shared.current
        }
        var responder = generation.makeResponder(index)
        // One connection object (and its buffers) for the thread's life, given each accepted socket.
        let connection = FastCGIConnection(transport: FastCGISocket(fileDescriptor: -1))
        connection.onReadWait = { [self] in self.enter(.reading, index) }
        connection.onWriteWait = { [self] in self.enter(.writing, index) }
        var socket: Int32 = -1
        while true {
            let (next, latest) = boundary(index, connection: socket)
            if next == .exit { break }
            if next == .switchGeneration {
                generation = latest
                responder = replace(responder, with: generation, slot: index)
            }
            if socket < 0 {
                // Either way the loop's top decides next: serve, switch, or exit; on success it
                // records the connection, and a thread woken late by a reload switches first.
                socket = acceptConnection(slot: index, logger: generation.logger)
                if socket >= 0 { connection.reset(transport: FastCGISocket(fileDescriptor: socket)) }
                continue
            }
            // Even when stopping, read on: a kept-alive connection is served until nginx closes it
            // (or the stop's grace period ends and an interrupt cuts the wait short).
            let incoming: FastCGIRequest
            switch connection.nextRequest(maxBodyBytes: generation.configuration.maxBodyBytes, wanted: generation.wantedNames) {
            case .closed:
                close(socket)
                socket = -1
                continue
            case .request(let request):
                incoming = request
            }
            if let newer = startServing(index) {
                generation = newer
                responder = replace(responder, with: generation, slot: index)
            }
            let response = responder.respond(to: incoming)
            if !connection.send(response) || !connection.keepConnection {
                close(socket)
                socket = -1
            }
        }
        responder.finish()
        let now = Self.now()
        let (rollover, latest) = shared.withLock { shared in
            shared.state.exited(index)
            return (shared.state.finishRollover(now: now), shared.current)
        }
        if let rollover { logRollover(rollover, generation: latest) }
        finished.signal()
    }

    /// Accepts the next connection: its socket, or -1 when interrupted (woken for a reload, or the
    /// listener shut down by a stop) or failed.
    private func acceptConnection(slot index: Int, logger: Logger) -> Int32 {
        let accepted = stockroom_accept_wakeable(listener.fileDescriptor, Self.wakeupSignal)
        if accepted < 0 {
            let error = errno
            // EINTR: woken for a reload. EINVAL: the listener was shut down by a stop.
            if error != EINTR && error != ECONNABORTED && error != EINVAL {
                logger.warning("accept failed", metadata: ["errno": "\(error)"])
                usleep(10_000)
            }
            return -1
        }
        _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
        let now = Self.now()
        shared.withLock { $0.state.accepted(index, connection: accepted, now: now) }
        return accepted
    }
}
