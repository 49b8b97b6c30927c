import Logging
import MariaDB

/// The one place where any error becomes an HTTP answer. Unknown errors are logged with their
/// detail and answered as a 500 without it. The database server's message can quote bound
/// values, so it is logged at debug level only.
enum ErrorMapping {
    static let busy = HTTPError(503, "busy", "The store is busy; try again shortly.", headers: [("Retry-After", "1")])

    static func response(for error: Error, context: RequestContext) -> Response {
        switch error {
        case let error as HTTPError:
            return error.response
        case let error as MariaDBError:
            return response(for: error, context: context)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return HTTPError.internalError.response
        }
    }

    private static func response(for error: MariaDBError, context: RequestContext) -> Response {
        context.application.metrics.databaseError(error)
        let logger = context.logger
        let metadata: Logger.Metadata = ["db.error": "\(error.code.rawValue)", "db.sqlstate": "\(error.sqlState)"]
        logger.debug("database error detail", metadata: metadata.merging(["db.message": "\(error.serverMessage)"]) { $1 })
        switch error.kind {
        case .unavailable:
            logger.warning("database unavailable", metadata: metadata)
            return HTTPError.databaseUnavailable.response
        case .conflict:
            logger.notice("transaction gave up after retries", metadata: metadata)
            return busy.response
        case .interrupted:
            logger.warning("statement interrupted by the database server", metadata: metadata)
            return busy.response
        case .statementLimit:
            logger.error("the database server's max_prepared_stmt_count is reached; see docs/deployment.md", metadata: metadata)
            return HTTPError.databaseUnavailable.response
        case .duplicateKey, .other:
            logger.error("database error", metadata: metadata)
            return HTTPError.internalError.response
        }
    }
}
