import Logging
import MariaDB
import StockroomCore

/// One responder thread's entry point: routes a request, runs its handler, maps errors, records
/// metrics. Owns the thread's `MariaDBSession`.
public final class RequestHandler {
    let application: StockroomApplication
    let database: MariaDBSession
    private let logger: Logger
    private var requestCounter: UInt64 = 0
    private let threadLabel: String
    /// This thread's handles on the request metrics, so a request does not go through the factory.
    private let metrics: RequestMetrics

    init(application: StockroomApplication, logger: Logger, threadIndex: Int) {
        self.application = application
        self.logger = logger
        self.threadLabel = String(threadIndex)
        self.metrics = RequestMetrics(metrics: application.metrics)
        MariaDBConnection.initializeThread()
        let session = MariaDBSession(configuration: application.configuration.database, logger: logger)
        let metrics = application.metrics
        session.onRetry = { _ in metrics.transactionRetried() }
        session.onFailover = { _ in metrics.failedOver() }
        session.onConnectionOpened = { metrics.connectionOpened() }
        session.onConnectionClosed = { metrics.connectionClosed() }
        self.database = session
    }

    public func handle(_ request: Request) -> Response {
        let started = MonotonicTime.nanoseconds()
        requestCounter &+= 1
        let trace = RequestTrace(parameters: request.parameters, fallbackID: "\(threadLabel)-\(requestCounter)")

        var routeName = "unmatched"
        var cachePolicy = CachePolicy.noStore
        var response: Response
        let context = RequestContext(request: request, trace: trace, baseLogger: logger,
                                     application: application, database: database)
        do {
            switch application.router.match(method: request.method, path: request.path) {
            case .found(let route, let ids):
                routeName = route.name
                cachePolicy = route.cachePolicy
                response = try route.handler(context, ids)
            case .methodNotAllowed(let allowed, let name):
                routeName = name
                throw HTTPError.methodNotAllowed(allowed: allowed)
            case .notFound:
                throw HTTPError.notFound
            }
        } catch {
            response = ErrorMapping.response(for: error, context: context)
        }
        context.finish()
        response.applyCachePolicy(cachePolicy, to: request)
        response.headers.append(("X-Request-Id", trace.requestID))
        let elapsed = MonotonicTime.nanoseconds() - started
        metrics.record(route: routeName, method: Self.metricsMethod(request.method), status: response.status, nanoseconds: elapsed)
        if application.configuration.isSlow(nanoseconds: elapsed) {
            metrics.recordSlow(route: routeName)
            // Notice, not warning: one line per slow request with its id, which the summarizing of
            // repeated warnings (lines alike but for the request id) would hold back.
            context.logger.notice("slow request", metadata: [
                "http.method": "\(request.method)", "http.route": "\(routeName)",
                "http.status": "\(response.status)", "duration.ms": "\(elapsed / 1_000_000)",
            ])
        }
        if logger.logLevel <= .debug {
            context.logger.debug("request", metadata: [
                "http.method": "\(request.method)", "http.route": "\(routeName)",
                "http.status": "\(response.status)", "duration.us": "\(elapsed / 1000)",
            ])
        }
        return response
    }

    /// Closes the database connection at thread exit.
    public func finish() {
        database.close()
        MariaDBConnection.finishThread()
    }

    /// Clients choose the method: unknown ones share one label value, so they cannot mint series.
    static func metricsMethod(_ method: String) -> String {
        switch method {
        case "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS": return method
        default: return "other"
        }
    }
}
