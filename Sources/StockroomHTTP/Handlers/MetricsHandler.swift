/// GET /metrics in Prometheus text format (nginx lets only loopback reach it).
enum MetricsHandler {
    static func register(in router: inout Router) {
        router.add("GET", "/metrics") { context, _ in
            Response(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                     body: context.application.metrics.exposition())
        }
    }
}
