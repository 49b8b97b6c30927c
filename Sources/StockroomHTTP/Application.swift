import Logging
import MariaDB
import PasswordHashing
import StockroomCore

/// What the application needs of the responder's settings (StockroomRuntime.ResponderSettings).
public struct StockroomConfiguration: Sendable {
    public var database: MariaDBConfiguration
    public var sessionLifetimeSeconds: Int64
    public var passwordHasher: PasswordHasher
    /// Test-only fault injection (STOCKROOM_TEST_HOOKS=1): honours the X-Stockroom-Test-Lock-Delay-Ms
    /// request header by sleeping while an order holds its row locks. Off unless set; never set it
    /// in production (the systemd env file does not).
    public var testHooksEnabled = false
    /// The store's tax rate and delivery fees (STOCKROOM_TAX_RATE and friends).
    public var pricing = PricingPolicy()
    /// A request that takes longer is logged and counted as slow (STOCKROOM_SLOW_REQUEST_MS); 0: none is.
    public var slowRequestMilliseconds = 1000

    public init(database: MariaDBConfiguration, sessionLifetimeSeconds: Int64 = 86_400,
                passwordHasher: PasswordHasher = PasswordHasher()) {
        self.database = database
        self.sessionLifetimeSeconds = sessionLifetimeSeconds
        self.passwordHasher = passwordHasher
    }
}

extension StockroomConfiguration {
    func isSlow(nanoseconds: Int64) -> Bool {
        slowRequestMilliseconds > 0 && nanoseconds > Int64(slowRequestMilliseconds) * 1_000_000
    }
}

/// What every responder thread shares: configuration, routes, metrics. Immutable after start-up.
public final class StockroomApplication: Sendable {
    public let configuration: StockroomConfiguration
    public let metrics: StockroomMetrics
    public let logger: Logger
    let router: Router
    let accountPolicy: AccountPolicy

    public init(configuration: StockroomConfiguration, metrics: StockroomMetrics, logger: Logger) throws {
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.accountPolicy = try AccountPolicy(hasher: configuration.passwordHasher,
                                               sessionLifetimeSeconds: configuration.sessionLifetimeSeconds)
        var router = Router()
        HealthHandlers.register(in: &router)
        AuthHandlers.register(in: &router)
        ProductHandlers.register(in: &router)
        OrderHandlers.register(in: &router)
        CartHandlers.register(in: &router)
        PromoCodeHandlers.register(in: &router)
        PricingHandler.register(in: &router)
        MetricsHandler.register(in: &router)
        self.router = router
    }

    /// Every request parameter (CGI name) the application reads; the transport copies only these.
    public static let requestParameterNames: Set<String> = [
        "REQUEST_METHOD", "REQUEST_URI", "DOCUMENT_URI", "QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH",
        "HTTP_AUTHORIZATION", "HTTP_IDEMPOTENCY_KEY", "HTTP_IF_NONE_MATCH", "REQUEST_ID", "TRACEPARENT", "HTTP_X_STOCKROOM_TEST_LOCK_DELAY_MS",
    ]

    /// The handler for one responder thread; it owns that thread's database session.
    public func makeRequestHandler(threadIndex: Int) -> RequestHandler {
        var logger = self.logger
        logger[metadataKey: "thread"] = "\(threadIndex)"
        return RequestHandler(application: self, logger: logger, threadIndex: threadIndex)
    }
}
