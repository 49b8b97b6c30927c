import Glibc

/// A value behind a pthread mutex, for state that many threads touch at once: the responder
/// pool's bookkeeping (every request, a few times) and the log output's summarizer (every
/// warning, which during a database outage is every request). Not `Synchronization.Mutex`: on
/// Linux with Swift 6.3 that is a priority-inheritance futex, which hands the lock over through
/// the kernel under contention (swiftlang/swift#88440) and halved /health/live throughput here
/// with 32 threads on 2 cores. This type is the lock, so it is the one place that vouches for
/// its own Sendable. Inlinable, so the pool's calls are specialized across the module boundary.
public final class PthreadLock<Value>: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable @inline(__always)
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
