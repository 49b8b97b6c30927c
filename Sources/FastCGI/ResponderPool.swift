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
        public init(threadCount: Int, maxBodyBytes: Int = 64 * 1024) {
            self.threadCount = threadCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// Signal used to interrupt idle threads at shutdown (SIGUSR1 belongs to libfcgi).
    public static let wakeupSignal = SIGUSR2

    private let listener: FastCGIListener
    private let configuration: Configuration
    private let logger: Logger
    private let makeResponder: (Int) -> FastCGIResponder
    private let lock = NSLock()
    private var idle: [Bool]
    private var threadIDs: [pthread_t?]
    private var running = 0
    private var stopping = false
    private var completedRequests: UInt64 = 0
    private let finished = DispatchSemaphore(value: 0)

    public init(listener: FastCGIListener, configuration: Configuration, logger: Logger,
                makeResponder: @escaping (Int) -> FastCGIResponder) {
        self.listener = listener
        self.configuration = configuration
        self.logger = logger
        self.makeResponder = makeResponder
        self.idle = Array(repeating: false, count: configuration.threadCount)
        self.threadIDs = Array(repeating: nil, count: configuration.threadCount)
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
    }

    /// Stops accepting, lets in-flight requests finish, and waits up to `timeout` seconds for every
    /// thread to end. Returns whether they all did.
    public func shutdown(timeout: Double) -> Bool {
        lock.lock()
        stopping = true
        lock.unlock()
        listener.stopAccepting()
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            lock.lock()
            let remaining = running
            // Threads waiting on an idle kept-alive connection only notice through a signal.
            for index in 0..<idle.count where idle[index] {
                if let id = threadIDs[index] { pthread_kill(id, Self.wakeupSignal) }
            }
            lock.unlock()
            if remaining == 0 { return true }
            _ = finished.wait(timeout: .now() + .milliseconds(50))
        }
        lock.lock()
        defer { lock.unlock() }
        return running == 0
    }

    private func setIdle(_ index: Int, _ value: Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if value && !idle[index] { completedRequests &+= 1 }
        idle[index] = value
        return stopping
    }

    /// Requests completed so far and threads waiting for work: a pool that shows neither
    /// progress nor an idle thread for a whole watchdog period is wedged.
    public var progress: (completed: UInt64, idleThreads: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (completedRequests, idle.filter { $0 }.count)
    }

    private func serve(threadIndex index: Int) {
        lock.lock()
        threadIDs[index] = pthread_self()
        lock.unlock()
        let responder = makeResponder(index)
        let request = UnsafeMutablePointer<FCGX_Request>.allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        FCGX_InitRequest(request, listener.fileDescriptor, 0)
        while true {
            if setIdle(index, true) { break }
            let accepted = FCGX_Accept_r(request)
            let stopping = setIdle(index, false)
            if accepted < 0 {
                if stopping { break }
                logger.warning("FCGX_Accept_r failed", metadata: ["errno": "\(-accepted)"])
                usleep(10_000)
                continue
            }
            let incoming = read(request)
            let response = responder.respond(to: incoming)
            let bytes = response.serialized()
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
    private func read(_ request: UnsafeMutablePointer<FCGX_Request>) -> FastCGIRequest {
        var parameters: [String: String] = [:]
        parameters.reserveCapacity(48)
        if var entry = request.pointee.envp {
            // Split NAME=value at the byte level; String(cString:) + Character search costs far more.
            while let pair = entry.pointee {
                let length = strlen(pair)
                pair.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    let all = UnsafeBufferPointer(start: bytes, count: length)
                    if let equals = all.firstIndex(of: UInt8(ascii: "=")) {
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
            drain(input)
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
        drain(input)  // anything past CONTENT_LENGTH is not part of this request
        return result
    }

    private func drain(_ input: UnsafeMutablePointer<FCGX_Stream>?) {
        var scratch = [CChar](repeating: 0, count: 4096)
        scratch.withUnsafeMutableBufferPointer { buffer in
            while FCGX_GetStr(buffer.baseAddress, Int32(buffer.count), input) > 0 {}
        }
    }
}
