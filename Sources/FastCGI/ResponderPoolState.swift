/// The pool's bookkeeping, apart from the threads and sockets it describes: what each thread (a
/// "slot") is doing and since when, which generation of responders it holds, and what it does at
/// its next request boundary. The pool mutates it under its Mutex; the tests drive it directly.
///
/// A reload installs a new generation. Threads move to it one by one, each at a request boundary
/// (never in the middle of a request), keeping the connection they serve: a kept-alive nginx
/// connection is never closed by a reload, so nginx can never have a request in flight on a
/// connection that is going away.
struct ResponderPoolState {
    enum Phase: Equatable {
        /// Waiting in accept() or for the next request on a kept-alive connection.
        case idle, reading, handling, writing
    }

    struct Slot: Equatable {
        var running = false
        var phase: Phase = .handling
        var since: Double = 0
        /// The connection the thread serves; -1 while it accepts.
        var connection: Int32 = -1
        /// The generation of the responder the thread holds.
        var generation = 0
    }

    /// What a thread does at a request boundary.
    enum Next: Equatable {
        case carryOn
        /// Finish the responder it holds and make one of the current generation.
        case switchGeneration
        case exit
    }

    private(set) var slots: [Slot] = []
    private(set) var generation = 0
    /// Threads the current generation wants; a slot at or past it exits once it has no connection.
    private(set) var threadCount = 0
    private(set) var stopping = false
    private(set) var completedRequests: UInt64 = 0
    /// When the generation before the current one began to be replaced, while threads still hold it.
    private(set) var rolloverSince: Double?
    /// Connections taken from the listen queue since the start.
    private(set) var acceptedConnections: UInt64 = 0
    /// Times the last thread waiting in accept() took a connection, leaving none for the next one:
    /// every thread was then busy or held by a kept-alive connection, and new connections queued.
    private(set) var saturationEvents: UInt64 = 0
    /// The longest listen queue sampled since the start.
    private(set) var maxListenQueue = 0

    /// Makes `threadCount` threads the current generation's; returns the slots that need a thread.
    mutating func install(threadCount: Int, now: Double) -> [Int] {
        if generation > 0 { rolloverSince = now }
        generation += 1
        self.threadCount = threadCount
        if slots.count < threadCount {
            slots += Array(repeating: Slot(), count: threadCount - slots.count)
        }
        let idle = (0..<threadCount).filter { !slots[$0].running }
        for index in idle {
            slots[index] = Slot(running: true, phase: .idle, since: now, connection: -1, generation: generation)
        }
        return idle
    }

    /// The thread of `index` runs and makes its responder of the current generation.
    mutating func threadStarted(_ index: Int) {
        slots[index].generation = generation
    }

    mutating func enter(_ phase: Phase, _ index: Int, connection: Int32? = nil, now: Double) {
        if phase == .idle && slots[index].phase != .idle { completedRequests &+= 1 }
        slots[index].phase = phase
        slots[index].since = now
        if let connection { slots[index].connection = connection }
    }

    /// The thread of `index` took `connection` from accept() and now waits for its first request.
    mutating func accepted(_ index: Int, connection: Int32, now: Double) {
        acceptedConnections &+= 1
        enter(.idle, index, connection: connection, now: now)
        if !stopping && acceptingCount == 0 { saturationEvents &+= 1 }
    }

    mutating func sampledListenQueue(_ queued: Int) {
        maxListenQueue = max(maxListenQueue, queued)
    }

    /// At the top of the loop, before waiting for a connection or the next request on one.
    mutating func next(_ index: Int) -> Next {
        let hasConnection = slots[index].connection >= 0
        if stopping || index >= threadCount {
            // A connection in hand is served to its end: nginx may already be writing into it.
            if !hasConnection { return .exit }
        }
        return switchIfOld(index) ? .switchGeneration : .carryOn
    }

    /// A request in hand on a connection kept across the reload: it is served by the new generation.
    mutating func switchBeforeServing(_ index: Int) -> Bool {
        switchIfOld(index)
    }

    private mutating func switchIfOld(_ index: Int) -> Bool {
        guard slots[index].generation != generation else { return false }
        slots[index].generation = generation
        return true
    }

    mutating func exited(_ index: Int) {
        slots[index].running = false
        slots[index].phase = .handling
        slots[index].connection = -1
    }

    mutating func stop() {
        stopping = true
    }

    var runningCount: Int { slots.filter(\.running).count }

    var idleCount: Int { slots.filter { $0.running && $0.phase == .idle }.count }

    /// Threads reading, handling or writing a request.
    var busyCount: Int { slots.filter { $0.running && $0.phase != .idle }.count }

    /// Idle threads in accept(), free for a new connection (the other idle ones wait on a kept-alive one).
    var acceptingCount: Int { slots.filter { $0.running && $0.phase == .idle && $0.connection < 0 }.count }

    /// Threads blocked in accept() that owe a switch or an exit: only a signal reaches them there.
    var wakeTargets: [Int] {
        slots.indices.filter { index in
            let slot = slots[index]
            return slot.running && slot.phase == .idle && slot.connection < 0
                && (slot.generation != generation || index >= threadCount)
        }
    }

    /// Threads waiting on a connection (at the end of a stop, every one of them is interrupted).
    var idleThreads: [Int] {
        slots.indices.filter { slots[$0].running && slots[$0].phase == .idle }
    }

    /// True once, when the last thread of older generations has switched or exited; returns how
    /// long the roll-over took.
    mutating func finishRollover(now: Double) -> Double? {
        guard let since = rolloverSince else { return nil }
        let done = slots.indices.allSatisfy { index in
            !slots[index].running || (slots[index].generation == generation && index < threadCount)
        }
        guard done else { return nil }
        rolloverSince = nil
        return now - since
    }

    /// Threads stuck on a silent peer for more than `timeout`: reading or writing, or idle on a
    /// kept-alive connection with nothing waiting on it. A waiting thread is never one: the kept-alive
    /// connection is only given up when no request is pending on it. After the process was stopped
    /// or starved (`overslept`), every clock restarts instead: waiting then was not the peer's fault.
    mutating func silentPeers(now: Double, timeout: Double, overslept: Bool,
                              hasPendingInput: (Int32) -> Bool) -> [Int] {
        var stuck: [Int] = []
        for index in slots.indices where slots[index].running {
            if overslept {
                slots[index].since = now
                continue
            }
            guard now - slots[index].since > timeout else { continue }
            switch slots[index].phase {
            case .idle:
                guard slots[index].connection >= 0, !hasPendingInput(slots[index].connection) else { continue }
            case .reading, .writing:
                break
            case .handling:
                continue
            }
            slots[index].since = now
            stuck.append(index)
        }
        return stuck
    }
}
