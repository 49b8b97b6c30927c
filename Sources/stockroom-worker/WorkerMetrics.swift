import Prometheus
import StockroomCore
import StockroomRuntime
import Synchronization

/// The worker's metrics: orders it processed (recorded as it goes) and the backlog of pending
/// orders as its loop last counted it (at most once a second, between batches); the age of the
/// oldest pending order is worked out at scrape time from when it was placed.
final class WorkerMetrics: Sendable {
    let exposition: MetricsExposition
    private let processed: Counter
    private let backlog = Mutex<PendingBacklog?>(nil)

    init(exposition: MetricsExposition = MetricsExposition()) {
        self.exposition = exposition
        processed = exposition.registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "stockroom", subsystem: "worker", metricName: "orders_processed", unitName: "total",
            helpText: "Orders this worker moved from pending to processed."))
        // Both live as long as the process.
        exposition.add { Self.families(self.backlog.withLock { $0 }, now: Timestamp.now()) }
    }

    func ordersProcessed(_ count: Int) {
        if count > 0 { processed.increment(by: Int64(count)) }
    }

    func backlogCounted(_ counted: PendingBacklog) {
        backlog.withLock { $0 = counted }
    }

    /// Nothing until the first count succeeded: a backlog of 0 would be a claim.
    static func families(_ backlog: PendingBacklog?, now: Timestamp) -> [ScrapedFamily] {
        guard let backlog else { return [] }
        return [
            ScrapedFamily("stockroom_worker_pending_orders", .gauge,
                          help: "Orders waiting for a worker (status pending), as this worker last counted them.",
                          value: Double(backlog.count)),
            ScrapedFamily("stockroom_worker_oldest_pending_order_age_seconds", .gauge,
                          help: "How long the first pending order in line has waited; 0 when none is pending.",
                          value: Double(backlog.oldestAgeSeconds(at: now))),
        ]
    }
}
