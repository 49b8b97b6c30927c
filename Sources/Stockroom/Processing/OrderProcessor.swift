import Glibc
import Logging
import MariaDB

/// The background side of orders: claims pending orders in small batches with
/// `FOR UPDATE SKIP LOCKED` (so several workers never take the same order) and marks them
/// processed. Also purges what has outlived its purpose (idempotency keys, login failures, sessions).
public final class OrderProcessor {
    public struct Settings: Sendable {
        /// Simulated work per order, in seconds (the claimed rows stay locked meanwhile).
        public var processingDelay: Double
        public var batchSize: Int
        public var idempotencyKeyLifetimeSeconds: Int64

        public init(processingDelay: Double = 0, batchSize: Int = 10, idempotencyKeyLifetimeSeconds: Int64 = 25 * 3600) {
            self.processingDelay = processingDelay
            self.batchSize = batchSize
            self.idempotencyKeyLifetimeSeconds = idempotencyKeyLifetimeSeconds
        }
    }

    private let database: MariaDBSession
    private let settings: Settings
    private let logger: Logger

    public init(database: MariaDBSession, settings: Settings, logger: Logger) {
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    /// Processes up to one batch; returns how many orders it marked processed.
    public func processBatch() throws -> Int {
        let now = Timestamp.now()
        let claimed = try database.transaction { connection -> [Int64] in
            let ids = try connection.query(
                "SELECT id FROM orders WHERE status = 'pending' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                [.int(Int64(settings.batchSize))]).rows.compactMap { $0.int(0) }
            guard !ids.isEmpty else { return [] }
            if settings.processingDelay > 0 {
                usleep(UInt32(min(settings.processingDelay * Double(ids.count), 3600) * 1_000_000))
            }
            let shaped = paddedForStatementShape(ids)
            try connection.query(
                "UPDATE orders SET status = 'processed', updated_at = ? WHERE status = 'pending' AND id IN (\(placeholders(shaped.count)))",
                [.string(now.databaseText)] + shaped.map { .int($0) })
            return ids
        }
        for id in claimed {
            logger.info("Order #\(id) processed", metadata: ["order.id": "\(id)"])
        }
        return claimed.count
    }

    /// Deletes expired idempotency keys, login failures and throttle rows, and sessions, a bounded number at a time.
    public func purgeExpired() throws {
        let now = Timestamp.now()
        try database.transaction { connection in
            try connection.query("DELETE FROM idempotency_keys WHERE created_at < ? LIMIT 1000",
                                 [.string(now.adding(seconds: -settings.idempotencyKeyLifetimeSeconds).databaseText)])
            let loginWindowStart = now.adding(seconds: -AuthResource.failureWindowSeconds).databaseText
            // Throttle rows before failures: the order a login takes their locks in.
            try connection.query("DELETE FROM login_throttles WHERE last_attempt_at < ? LIMIT 1000", [.string(loginWindowStart)])
            try connection.query("DELETE FROM login_failures WHERE failed_at < ? LIMIT 1000", [.string(loginWindowStart)])
            try connection.query("DELETE FROM sessions WHERE expires_at < ? LIMIT 1000", [.string(now.databaseText)])
        }
    }
}
