import CoreMetrics
import MariaDB
import Prometheus
import StockroomCore

/// The service's metrics, recorded through swift-metrics and exposed by swift-prometheus.
public final class StockroomMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let connectionsInUse: Meter
    private let connectionsOpen: Meter
    private let transactionRetries: CoreMetrics.Counter
    private let failovers: CoreMetrics.Counter
    private let ordersPlaced: CoreMetrics.Counter
    private let stockConflicts: CoreMetrics.Counter
    private let lockHold: CoreMetrics.Timer
    private let lockWait: CoreMetrics.Timer
    private let checkoutLockHold: CoreMetrics.Timer
    private let checkoutLockWait: CoreMetrics.Timer
    private let promoCodesExhausted: CoreMetrics.Counter

    /// Bootstraps the global metrics system once per process with a Prometheus registry.
    public static func bootstrap() -> StockroomMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        return StockroomMetrics(registry: registry)
    }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        connectionsInUse = Meter(label: "stockroom_db_connections_in_use")
        connectionsOpen = Meter(label: "stockroom_db_connections_open")
        transactionRetries = CoreMetrics.Counter(label: "stockroom_db_transaction_retries_total")
        failovers = CoreMetrics.Counter(label: "stockroom_db_failovers_total")
        ordersPlaced = CoreMetrics.Counter(label: "stockroom_orders_placed_total")
        stockConflicts = CoreMetrics.Counter(label: "stockroom_stock_conflicts_total")
        lockHold = CoreMetrics.Timer(label: "stockroom_order_lock_hold_seconds")
        lockWait = CoreMetrics.Timer(label: "stockroom_order_lock_wait_seconds")
        checkoutLockHold = CoreMetrics.Timer(label: "stockroom_checkout_lock_hold_seconds")
        checkoutLockWait = CoreMetrics.Timer(label: "stockroom_checkout_lock_wait_seconds")
        promoCodesExhausted = CoreMetrics.Counter(label: "stockroom_promo_code_exhausted_total")
    }

    func databaseError(_ error: MariaDBError) {
        CoreMetrics.Counter(label: "stockroom_db_errors_total", dimensions: [("code", String(error.code.rawValue))]).increment()
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

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
