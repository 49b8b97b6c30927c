import CFastCGI
import Foundation
import Logging

/// Answers requests on one thread; the pool makes one per thread, on that thread, so whatever it
/// owns (a database connection) is only ever used there.
public protocol FastCGIResponder: AnyObject {
    func respond(to request: FastCGIRequest) -> FastCGIResponse
    /// Called on the responder's thread after its last request.
    func finish()
}

/// A fixed pool of threads that each call `FCGX_Accept_r` on their own request: no global accept
/// mutex, so a thread pinned to an idle kept-alive nginx connection never holds up the others.
public final class ResponderPool {
    public struct Configuration: Sendable {
        public var threadCount: Int
        public var maxBodyBytes: Int
        /// The FastCGI parameters the application reads; only these are copied out of libfcgi
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

    /// Signal used to interrupt idle threads at shutdown (SIGUSR1 belongs to libfcgi).
    public static let wakeupSignal = SIGUSR2

    private let listener: FastCGIListener
    private let configuration: Configuration
    private let logger: Logger
    private let makeResponder: (Int) -> FastCGIResponder
    private let lock = NSLock()
    /// What each thread is doing; `idle` is waiting in FCGX_Accept_r (on accept or on a kept-alive
    /// connection's next request), the phases the idle monitor watches are the waiting ones.
    private enum Phase { case idle, reading, handling, writing }

    private var phase: [Phase]
    private var phaseSince: [Double]
    private var connection: [Int32]
    private var threadIDs: [pthread_t?]
    private var running = 0
    private var stopping = false
    private var completedRequests: UInt64 = 0
    private let finished = DispatchSemaphore(value: 0)
    /// `parameterNames` as bytes, grouped by length, for matching names without making Strings.
    private let wantedNames: [Int: [[UInt8]]]?

    public init(listener: FastCGIListener, configuration: Configuration, logger: Logger,
                makeResponder: @escaping (Int) -> FastCGIResponder) {
        self.listener = listener
        self.configuration = configuration
        self.logger = logger
        self.makeResponder = makeResponder
        self.phase = Array(repeating: .handling, count: configuration.threadCount)
        self.phaseSince = Array(repeating: 0, count: configuration.threadCount)
        self.connection = Array(repeating: -1, count: configuration.threadCount)
        self.threadIDs = Array(repeating: nil, count: configuration.threadCount)
        self.wantedNames = configuration.parameterNames.map { names in
            Dictionary(grouping: names.map { Array($0.utf8) }, by: \.count)
        }
        assert(configuration.parameterNames.map { $0.contains("CONTENT_LENGTH") } ?? true, "the pool needs CONTENT_LENGTH")
    }

    public func start() {
        stockroom_install_wakeup_signal(Self.wakeupSignal)
        lock.lock()
        running = configuration.threadCount
        lock.unlock()
        for index in 0..<configuration.threadCount {
            let thread = Thread { [self] in self.serve(threadIndex: index) }
            thread.name = "responder-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        let monitor = Thread { [self] in self.monitorIdleConnections() }
        monitor.name = "idle-monitor"
        monitor.start()
    }

    private static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Interrupts threads stuck on a silent peer. A kept-alive connection is only given up when no
    /// request is waiting on it (nginx stops using a connection after 2 s idle; this acts after
    /// `idleTimeout`). After the process was stopped or starved (this loop overslept), every clock
    /// restarts instead: waiting then was not the peer's fault.
    private func monitorIdleConnections() {
        let timeout = configuration.idleTimeout
        let tick = 0.25
        var last = Self.now()
        while true {
            usleep(UInt32(tick * 1_000_000))
            let now = Self.now()
            let overslept = now - last > tick * 4
            last = now
            lock.lock()
            if running == 0 && stopping {
                lock.unlock()
                return
            }
            for index in 0..<phase.count {
                if overslept {
                    phaseSince[index] = now
                    continue
                }
                guard now - phaseSince[index] > timeout, let thread = threadIDs[index] else { continue }
                switch phase[index] {
                case .idle:
                    guard connection[index] >= 0, !Self.hasPendingInput(connection[index]) else { continue }
                case .reading, .writing:
                    break
                case .handling:
                    continue
                }
                phaseSince[index] = now
                pthread_kill(thread, Self.wakeupSignal)
            }
            lock.unlock()
        }
    }

    /// Data (or end of file) waiting to be read on `fd`.
    private static func hasPendingInput(_ fd: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents != 0
    }

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
        lock.lock()
        stopping = true
        lock.unlock()
        listener.stopAccepting()
        let graceEnd = Date().addingTimeInterval(min(Self.keepAliveGrace, timeout / 2))
        while Date() < deadline {
            lock.lock()
            let remaining = running
            // After the grace period, threads still waiting on an idle kept-alive connection only
            // notice the stop through a signal.
            if Date() >= graceEnd {
                for index in 0..<phase.count where phase[index] == .idle {
                    if let id = threadIDs[index] { pthread_kill(id, Self.wakeupSignal) }
                }
            }
            lock.unlock()
            if remaining == 0 { return true }
            _ = finished.wait(timeout: .now() + .milliseconds(50))
        }
        lock.lock()
        defer { lock.unlock() }
        return running == 0
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Records what thread `index` is doing (and since when); returns whether the pool is stopping.
    @discardableResult
    private func enter(_ newPhase: Phase, _ index: Int, connection fd: Int32? = nil) -> Bool {
        let now = Self.now()
        lock.lock()
        defer { lock.unlock() }
        if newPhase == .idle && phase[index] != .idle { completedRequests &+= 1 }
        phase[index] = newPhase
        phaseSince[index] = now
        if let fd { connection[index] = fd }
        return stopping
    }

    /// Requests completed so far and threads waiting for work: a pool that shows neither
    /// progress nor an idle thread for a whole watchdog period is wedged.
    public var progress: (completed: UInt64, idleThreads: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (completedRequests, phase.filter { $0 == .idle }.count)
    }

    private func serve(threadIndex index: Int) {
        lock.lock()
        threadIDs[index] = pthread_self()
        lock.unlock()
        let responder = makeResponder(index)
        let scratch = UnsafeMutableBufferPointer<CChar>.allocate(capacity: 4096)
        defer { scratch.deallocate() }
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        // libfcgi is given no listening socket: connections are accepted here, so the pool knows
        // each thread's connection (for the idle monitor). When a connection ends, FCGX_Accept_r's
        // accept on -1 fails at once and the loop comes back here.
        FCGX_InitRequest(request, -1, 0)
        while true {
            let stopping = enter(.idle, index, connection: request.pointee.ipcFd)
            if request.pointee.ipcFd < 0 {
                let accepted = accept(listener.fileDescriptor, nil, nil)
                if accepted < 0 {
                    let error = errno
                    if stopping || isStopping { break }
                    if error != EINTR && error != ECONNABORTED {
                        logger.warning("accept failed", metadata: ["errno": "\(error)"])
                        usleep(10_000)
                    }
                    continue
                }
                _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
                enter(.idle, index, connection: accepted)
                request.pointee.ipcFd = accepted
                // FCGX_Accept_r first finishes the "previous" request and would close this fd
                // unless the connection counts as kept.
                request.pointee.keepConnection = 1
                // "Detached" makes libfcgi close the connection plainly instead of half-closing it
                // and waiting up to 2 s for the peer: the body is always drained here, and a silent
                // peer (interrupted by the idle monitor) must not hold the thread for 2 s more.
                request.pointee.detached = 1
            }
            // Even when stopping, go on into FCGX_Accept_r: it serves the next request on a
            // kept-alive connection, and fails once that connection is gone.
            let got = FCGX_Accept_r(request)
            let stoppingNow = enter(.reading, index)
            if got < 0 {
                if stoppingNow && request.pointee.ipcFd < 0 { break }
                continue  // the connection ended (closed, interrupted, or garbage): accept the next
            }
            if FCGX_GetError(request.pointee.in) != 0 {
                // libfcgi hands over a request whose parameters were cut off by a read error (the
                // idle monitor's interrupt): not a request to answer. Close the connection.
                request.pointee.keepConnection = 0
                FCGX_Finish_r(request)
                continue
            }
            let incoming = read(request, scratch: scratch)
            enter(.handling, index)
            let response = responder.respond(to: incoming)
            let bytes = response.serialized()
            enter(.writing, index)
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    _ = FCGX_PutStr(chars.baseAddress, Int32(chars.count), request.pointee.out)
                }
            }
            FCGX_Finish_r(request)
        }
        FCGX_Free(request, 1)
        request.deallocate()
        responder.finish()
        lock.lock()
        running -= 1
        lock.unlock()
        finished.signal()
    }

    /// Copies the parameters (libfcgi frees them at finish) and reads exactly CONTENT_LENGTH bytes,
    /// refusing a body over the limit before allocating anything for it.
    private func read(_ request: UnsafeMutablePointer<FCGX_Request>, scratch: UnsafeMutableBufferPointer<CChar>) -> FastCGIRequest {
        var parameters: [String: String] = [:]
        parameters.reserveCapacity(48)
        if var entry = request.pointee.envp {
            // Split NAME=value at the byte level; String(cString:) + Character search costs far more.
            while let pair = entry.pointee {
                let length = strlen(pair)
                pair.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    let all = UnsafeBufferPointer(start: bytes, count: length)
                    if let equals = all.firstIndex(of: UInt8(ascii: "=")), isWanted(UnsafeBufferPointer(rebasing: all[..<equals])) {
                        let name = String(decoding: UnsafeBufferPointer(rebasing: all[..<equals]), as: UTF8.self)
                        parameters[name] = String(decoding: UnsafeBufferPointer(rebasing: all[(equals + 1)...]), as: UTF8.self)
                    }
                }
                entry += 1
            }
        }
        let input = request.pointee.in
        let declared = parameters["CONTENT_LENGTH"].flatMap { Int($0) } ?? 0
        var result = FastCGIRequest(parameters: parameters, body: [])
        if declared < 0 || declared > configuration.maxBodyBytes {
            result.bodyStatus = .tooLarge
            drain(input, scratch: scratch)
            return result
        }
        if declared > 0 {
            var body = [UInt8](repeating: 0, count: declared)
            var filled = 0
            body.withUnsafeMutableBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { chars in
                    while filled < declared {
                        let got = FCGX_GetStr(chars.baseAddress! + filled, Int32(declared - filled), input)
                        if got <= 0 { break }
                        filled += Int(got)
                    }
                }
            }
            if filled < declared {
                result.bodyStatus = .incomplete
                body.removeLast(declared - filled)
            }
            result.body = body
        }
        drain(input, scratch: scratch)  // anything past CONTENT_LENGTH is not part of this request
        return result
    }

    private func isWanted(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let wantedNames else { return true }
        guard let candidates = wantedNames[name.count] else { return false }
        return candidates.contains { $0.elementsEqual(name) }
    }

    private func drain(_ input: UnsafeMutablePointer<FCGX_Stream>?, scratch: UnsafeMutableBufferPointer<CChar>) {
        while FCGX_GetStr(scratch.baseAddress, Int32(scratch.count), input) > 0 {}
    }
}
