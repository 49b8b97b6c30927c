import Glibc
import Logging
import MariaDB

/// One responder thread's entry point: routes a request, runs its handler, maps errors, records
/// metrics. Owns the thread's `MariaDBSession`.
public final class RequestHandler {
    let application: StockroomApplication
    let database: MariaDBSession
    private let logger: Logger
    private var requestCounter: UInt64 = 0

    init(application: StockroomApplication, logger: Logger) {
        self.application = application
        self.logger = logger
        MariaDBConnection.initializeThread()
        let session = MariaDBSession(configuration: application.configuration.database, logger: logger)
        let metrics = application.metrics
        session.onRetry = { _ in metrics.transactionRetried() }
        session.onConnectionOpened = { metrics.connectionOpened() }
        session.onConnectionClosed = { metrics.connectionClosed() }
        self.database = session
    }

    public func handle(_ request: Request) -> Response {
        let started = Self.monotonicNanoseconds()
        requestCounter &+= 1
        var logger = self.logger
        let requestID = request.parameters["REQUEST_ID"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "\(logger[metadataKey: "thread"] ?? "0")-\(requestCounter)"
        logger[metadataKey: "request.id"] = "\(requestID)"

        var routeName = "unmatched"
        var response: Response
        let context = RequestContext(request: request, logger: logger, application: application, database: database)
        do {
            switch application.router.match(method: request.method, path: request.path) {
            case .found(let route, let ids):
                routeName = route.name
                response = try route.handler(context, ids)
            case .methodNotAllowed(let allowed, let name):
                routeName = name
                throw HTTPError.methodNotAllowed(allowed: allowed)
            case .notFound:
                throw HTTPError.notFound
            }
        } catch {
            response = ErrorMapping.response(for: error, logger: logger, metrics: application.metrics)
        }
        context.finish()
        response.headers.append(("X-Request-Id", requestID))
        let elapsed = Self.monotonicNanoseconds() - started
        application.metrics.request(route: routeName, method: Self.metricsMethod(request.method), status: response.status,
                                    nanoseconds: elapsed)
        logger.debug("request", metadata: [
            "http.method": "\(request.method)", "http.route": "\(routeName)",
            "http.status": "\(response.status)", "duration.us": "\(elapsed / 1000)",
        ])
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

    static func monotonicNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
