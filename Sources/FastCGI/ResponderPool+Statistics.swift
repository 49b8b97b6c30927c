/// What a FastCGI pool operator looks at (php-fpm's status page): the threads by state, the
/// connections taken, how often the pool ran out of threads, and the socket's listen queue.
public struct ResponderPoolStatistics: Sendable, Equatable {
    /// Threads the settings ask for (STOCKROOM_THREADS).
    public var configuredThreads: Int
    /// Threads reading, handling or writing a request.
    public var busyThreads: Int
    /// Threads waiting: in accept(), or for the next request on a kept-alive connection.
    public var idleThreads: Int
    /// The idle threads in accept(), free to take a new connection.
    public var acceptingThreads: Int
    public var acceptedConnections: UInt64
    /// Times the last thread in accept() took a connection (`ResponderPoolState.saturationEvents`).
    public var saturationEvents: UInt64
    /// Connections waiting in the listen queue now; nil when the kernel would not say.
    public var listenQueue: Int?
    /// The most the listen queue holds; nil when the kernel would not say.
    public var listenQueueLimit: Int?
    /// The longest listen queue seen, sampled every idle-monitor tick (0.25 s) and at every read of these.
    public var maxListenQueue: Int
}

extension ResponderPool {
    /// A snapshot, with the listen queue sampled now.
    public var statistics: ResponderPoolStatistics {
        let queue = listener.listenQueue
        return shared.withLock { shared in
            if let queue { shared.state.sampledListenQueue(queue.queued) }
            let state = shared.state
            return ResponderPoolStatistics(
                configuredThreads: state.threadCount, busyThreads: state.busyCount, idleThreads: state.idleCount,
                acceptingThreads: state.acceptingCount, acceptedConnections: state.acceptedConnections,
                saturationEvents: state.saturationEvents, listenQueue: queue?.queued, listenQueueLimit: queue?.limit,
                maxListenQueue: state.maxListenQueue)
        }
    }

    /// The idle monitor's sample of the listen queue, so that a short spike between two reads of
    /// `statistics` still shows in `maxListenQueue`.
    func sampleListenQueue() {
        guard let queue = listener.listenQueue else { return }
        shared.withLock { $0.state.sampledListenQueue(queue.queued) }
    }
}
