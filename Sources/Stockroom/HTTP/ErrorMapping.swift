import Logging
import MariaDB

/// The one place where any error becomes an HTTP answer. Unknown errors are logged with their
/// detail and answered as a 500 without it.
enum ErrorMapping {
    static func response(for error: Error, context: RequestContext) -> Response {
        let metrics = context.application.metrics
        var logger: Logger { context.logger }
        switch error {
        case let error as HTTPError:
            return error.response
        case let error as MariaDBError where error.isConnectionLost || error.code.rawValue >= 2000 && error.code.rawValue < 3000:
            metrics.databaseError(error)
            logger.warning("database unavailable", metadata: ["db.error": "\(error.code.rawValue)"])
            return HTTPError.databaseUnavailable.response
        case let error as MariaDBError where error.isRetryableConflict:
            metrics.databaseError(error)
            logger.notice("transaction gave up after retries", metadata: ["db.error": "\(error.code.rawValue)"])
            return HTTPError(503, "busy", "The store is busy; try again shortly.", headers: [("Retry-After", "1")]).response
        case let error as MariaDBError:
            metrics.databaseError(error)
            logger.error("database error", metadata: ["db.error": "\(error.code.rawValue)", "db.message": "\(error.serverMessage)"])
            return HTTPError.internalError.response
        default:
            logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return HTTPError.internalError.response
        }
    }
}
