import Glibc

/// A value behind a pthread mutex, for the pool's bookkeeping that every request touches a few
/// times. Not `Synchronization.Mutex`: on Linux with Swift 6.3 that is a priority-inheritance
/// futex, which hands the lock over through the kernel under contention (swiftlang/swift#88440)
/// and halved /health/live throughput here with 32 threads on 2 cores. This type is the lock,
/// so it is the one place that vouches for its own Sendable.
final class PoolLock<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
