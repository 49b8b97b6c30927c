import StockroomRuntime

/// GET /metrics in Prometheus text format: the process that answers (nginx lets only loopback reach
/// it, and its per-process locations /metrics/N pin one responder each, sending the path /metrics).
enum MetricsHandler {
    static func register(in router: inout Router) {
        router.add("GET", "/metrics") { context, _ in
            Response(status: 200, headers: [("Content-Type", MetricsExposition.contentType)],
                     body: context.application.metrics.exposition.text())
        }
    }
}
