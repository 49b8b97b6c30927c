import Logging
import MariaDB
import StockroomCore

/// Everything a handler needs for one request: the request, a logger carrying the request id (and
/// the traceparent), the thread's database session (for the Core stores), and the helpers for auth
/// and bodies.
final class RequestContext {
    let request: Request
    let trace: RequestTrace
    let application: StockroomApplication
    private let baseLogger: Logger
    private let session: MariaDBSession
    private var usedDatabase = false

    init(request: Request, trace: RequestTrace, baseLogger: Logger, application: StockroomApplication, database: MariaDBSession) {
        self.request = request
        self.trace = trace
        self.baseLogger = baseLogger
        self.application = application
        self.session = database
    }

    /// The thread's logger with the request id and the traceparent; made on first use, since most
    /// requests log nothing and setting metadata is not free.
    lazy var logger: Logger = {
        var logger = baseLogger
        logger[metadataKey: "request.id"] = "\(trace.requestID)"
        if let traceparent = trace.traceparent {
            logger[metadataKey: "traceparent"] = "\(traceparent)"
        }
        return logger
    }()

    /// The thread's database session; counted as "in use" until the request ends.
    var database: MariaDBSession {
        if !usedDatabase {
            usedDatabase = true
            application.metrics.connectionCheckedOut()
        }
        return session
    }

    func finish() {
        if usedDatabase { application.metrics.connectionReturned() }
    }

    /// The body as a JSON object with the given fields: 413, 415, 400 and 422 as the contract says.
    func jsonBody(allowed: Set<String>) throws -> ObjectReader {
        switch request.bodyStatus {
        case .tooLarge: throw HTTPError.payloadTooLarge
        case .incomplete: throw HTTPError(400, "incomplete_body", "The request body ended before Content-Length bytes.")
        case .complete: break
        }
        try checkContentType()
        return try ObjectReader(body: request.body, allowed: allowed)
    }

    /// A body is only accepted as JSON (`application/json`, parameters such as charset allowed).
    func checkContentType() throws {
        guard !request.body.isEmpty || request.bodyStatus != .complete else { return }
        guard let contentType = request.contentType else { throw HTTPError.unsupportedMediaType }
        let mediaType = contentType.split(separator: ";", maxSplits: 1)[0]
            .trimmingCharacters(in: " \t").lowercased()
        guard mediaType == "application/json" else { throw HTTPError.unsupportedMediaType }
    }

    /// Test hook (only with STOCKROOM_TEST_HOOKS=1): how long an order sleeps holding its row locks.
    var testLockDelayMicroseconds: UInt32? {
        guard application.configuration.testHooksEnabled,
              let text = request.parameters["HTTP_X_STOCKROOM_TEST_LOCK_DELAY_MS"], let ms = UInt32(text), ms <= 60_000 else {
            return nil
        }
        return ms * 1000
    }

    /// Endpoints that take no body still refuse an oversized or non-JSON one.
    func checkNoBodyRequest() throws {
        if request.bodyStatus == .tooLarge { throw HTTPError.payloadTooLarge }
        try checkContentType()
    }
}

extension RequestContext {
    var products: ProductStore { ProductStore(database) }
    var orders: OrderStore { OrderStore(database, pricing: application.configuration.pricing) }
    var carts: CartStore { CartStore(database, pricing: application.configuration.pricing) }
    var promoCodes: PromoCodeStore { PromoCodeStore(database) }
    var accounts: AccountStore { AccountStore(database, policy: application.accountPolicy) }

    /// The bearer token of the request, if the Authorization header is well formed.
    var bearerToken: String? {
        guard let header = request.authorization else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: " \t")
        return SessionToken.isWellFormed(token[...]) ? token : nil
    }

    /// The signed-in user, or 401 for a missing, malformed, unknown, expired or revoked token.
    func authenticatedUser() throws -> User {
        guard let token = bearerToken else { throw HTTPError.unauthorized }
        return try accounts.user(forToken: token)
    }

    func requireAdmin() throws -> User {
        let user = try authenticatedUser()
        guard user.isAdmin else { throw HTTPError.forbidden }
        return user
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
