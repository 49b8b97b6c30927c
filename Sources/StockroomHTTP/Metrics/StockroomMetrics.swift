import MariaDB
import Prometheus
import StockroomCore
import StockroomRuntime

/// The responder's own metrics, recorded on the process's registry as things happen. Every family is
/// registered here with its help text (`Family`), so the exposition has a HELP line for each.
public final class StockroomMetrics: Sendable {
    /// The registry these are recorded on, and the families read at scrape time (process, build,
    /// the responder pool's, added by stockroom-fcgi).
    public let exposition: MetricsExposition
    private let connectionsInUse: Gauge
    private let connectionsOpen: Gauge
    private let transactionRetries: Counter
    private let failovers: Counter
    private let ordersPlaced: Counter
    private let stockConflicts: Counter
    private let lockHold: DurationHistogram
    private let lockWait: DurationHistogram
    private let checkoutLockHold: DurationHistogram
    private let checkoutLockWait: DurationHistogram
    private let promoCodesExhausted: Counter

    /// 0.5 ms to 10 s, for every latency histogram.
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    public init(exposition: MetricsExposition = MetricsExposition()) {
        self.exposition = exposition
        let registry = exposition.registry
        connectionsInUse = registry.makeGauge(descriptor: Family.connectionsInUse)
        connectionsOpen = registry.makeGauge(descriptor: Family.connectionsOpen)
        transactionRetries = registry.makeCounter(descriptor: Family.transactionRetries)
        failovers = registry.makeCounter(descriptor: Family.failovers)
        ordersPlaced = registry.makeCounter(descriptor: Family.ordersPlaced)
        stockConflicts = registry.makeCounter(descriptor: Family.stockConflicts)
        promoCodesExhausted = registry.makeCounter(descriptor: Family.promoCodesExhausted)
        func histogram(_ family: MetricNameDescriptor) -> DurationHistogram {
            registry.makeDurationHistogram(descriptor: family, buckets: Self.durationBuckets)
        }
        lockHold = histogram(Family.orderLockHold)
        lockWait = histogram(Family.orderLockWait)
        checkoutLockHold = histogram(Family.checkoutLockHold)
        checkoutLockWait = histogram(Family.checkoutLockWait)
    }

    func databaseError(_ error: MariaDBError) {
        exposition.registry.makeCounter(descriptor: Family.databaseErrors, labels: [("code", String(error.code.rawValue))])
            .increment()
    }

    public func transactionRetried() { transactionRetries.increment() }
    /// A transaction or read ran again on another node because its node failed.
    public func failedOver() { failovers.increment() }
    func orderPlaced(lockWaitNanoseconds: Int64, lockHeldNanoseconds: Int64) {
        ordersPlaced.increment()
        lockWait.recordNanoseconds(lockWaitNanoseconds)
        lockHold.recordNanoseconds(lockHeldNanoseconds)
    }
    /// A checkout counts as an order placed; its product locks are timed apart from direct orders'.
    func checkedOut(lockWaitNanoseconds: Int64, lockHeldNanoseconds: Int64) {
        ordersPlaced.increment()
        checkoutLockWait.recordNanoseconds(lockWaitNanoseconds)
        checkoutLockHold.recordNanoseconds(lockHeldNanoseconds)
    }
    func stockConflict() { stockConflicts.increment() }
    func promoCodeExhausted() { promoCodesExhausted.increment() }
    func connectionCheckedOut() { connectionsInUse.increment() }
    func connectionReturned() { connectionsInUse.decrement() }
    public func connectionOpened() { connectionsOpen.increment() }
    public func connectionClosed() { connectionsOpen.decrement() }

    /// A thread's handles on the per-request families (`RequestMetrics`).
    func requestCounter(route: String, method: String, status: Int) -> Counter {
        exposition.registry.makeCounter(descriptor: Family.requests,
                                        labels: [("route", route), ("method", method), ("status", String(status))])
    }

    func requestDuration(route: String) -> DurationHistogram {
        exposition.registry.makeDurationHistogram(descriptor: Family.requestDuration, labels: [("route", route)],
                                                  buckets: Self.durationBuckets)
    }

    func slowRequests(route: String) -> Counter {
        exposition.registry.makeCounter(descriptor: Family.slowRequests, labels: [("route", route)])
    }
}
