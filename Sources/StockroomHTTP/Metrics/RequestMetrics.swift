import CoreMetrics

/// One responder thread's cache of request counters and latency timers, keyed by route, method and
/// status: creating them through the metrics factory on every request cost a tenth of a request.
final class RequestMetrics {
    private struct CounterKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    private var counters: [CounterKey: CoreMetrics.Counter] = [:]
    private var timers: [String: CoreMetrics.Timer] = [:]

    func record(route: String, method: String, status: Int, nanoseconds: Int64) {
        let key = CounterKey(route: route, method: method, status: status)
        let counter: CoreMetrics.Counter
        if let cached = counters[key] {
            counter = cached
        } else {
            counter = CoreMetrics.Counter(label: "stockroom_http_requests_total",
                                          dimensions: [("route", route), ("method", method), ("status", String(status))])
            counters[key] = counter
        }
        counter.increment()
        let timer: CoreMetrics.Timer
        if let cached = timers[route] {
            timer = cached
        } else {
            timer = CoreMetrics.Timer(label: "stockroom_http_request_duration_seconds", dimensions: [("route", route)])
            timers[route] = timer
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
