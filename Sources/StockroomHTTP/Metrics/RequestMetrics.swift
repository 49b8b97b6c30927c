import Prometheus

/// One responder thread's cache of its handles on the per-request families, keyed by their labels:
/// looking them up in the registry on every request costs a lock and a hash of the labels.
final class RequestMetrics {
    private struct CounterKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private let metrics: StockroomMetrics
    private var counters: [CounterKey: Counter] = [:]
    private var durations: [String: DurationHistogram] = [:]
    private var slow: [String: Counter] = [:]

    init(metrics: StockroomMetrics) {
        self.metrics = metrics
    }

    func record(route: String, method: String, status: Int, nanoseconds: Int64) {
        let key = CounterKey(route: route, method: method, status: status)
        let counter: Counter
        if let cached = counters[key] {
            counter = cached
        } else {
            counter = metrics.requestCounter(route: route, method: method, status: status)
            counters[key] = counter
        }
        counter.increment()
        let duration: DurationHistogram
        if let cached = durations[route] {
            duration = cached
        } else {
            duration = metrics.requestDuration(route: route)
            durations[route] = duration
        }
        duration.recordNanoseconds(nanoseconds)
    }

    func recordSlow(route: String) {
        if let cached = slow[route] {
            cached.increment()
            return
        }
        let counter = metrics.slowRequests(route: route)
        slow[route] = counter
        counter.increment()
    }
}
