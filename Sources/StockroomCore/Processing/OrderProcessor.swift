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
            let ids = try connection.rows(Statements.ClaimPending(limit: Int64(settings.batchSize)))
            guard !ids.isEmpty else { return [] }
            if settings.processingDelay > 0 {
                usleep(UInt32(min(settings.processingDelay * Double(ids.count), 3600) * 1_000_000))
            }
            try connection.execute(Statements.MarkProcessed(ids: ids, at: now))
            return ids
        }
        for id in claimed {
            logger.info("Order #\(id) processed", metadata: ["order.id": "\(id)"])
        }
        return claimed.count
    }

    /// Orders waiting for a worker (the orders_status index answers it).
    public func pendingCount() throws -> Int {
        try database.read { connection in
            Int(try connection.rows(Statements.CountPending()).first ?? 0)
        }
    }

    /// Deletes expired idempotency keys, login failures and throttle rows, and sessions, a bounded number at a time.
    public func purgeExpired() throws {
        let now = Timestamp.now()
        let loginWindowStart = now.adding(seconds: -AccountPolicy.failureWindowSeconds)
        try database.transaction { connection in
            try connection.execute(Statements.Purge.idempotencyKeys(before: now.adding(seconds: -settings.idempotencyKeyLifetimeSeconds)))
            // Throttle rows before failures: the order a login takes their locks in.
            try connection.execute(Statements.Purge.loginThrottles(before: loginWindowStart))
            try connection.execute(Statements.Purge.loginFailures(before: loginWindowStart))
            try connection.execute(Statements.Purge.sessions(before: now))
        }
    }
}

extension OrderProcessor {
    enum Statements {
        /// Pending orders no other worker holds, oldest first.
        struct ClaimPending: MariaDBQuery {
            let limit: Int64
            static let sql = "SELECT id FROM orders WHERE status = 'pending' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(limit)] }
            func decode(_ row: MariaDBRow) throws -> Int64 { try row.requiredInt(0, of: Self.self) }
        }

        struct CountPending: MariaDBQuery {
            var sql: String { "SELECT COUNT(*) FROM orders WHERE status = 'pending'" }
            var bindings: [MariaDBValue] { [] }
            func decode(_ row: MariaDBRow) throws -> Int64 { try row.requiredInt(0, of: Self.self) }
        }

        struct MarkProcessed: MariaDBCommand {
            let ids: [Int64]
            let at: Timestamp
            init(ids: [Int64], at: Timestamp) {
                self.ids = StatementShape.padded(ids)
                self.at = at
            }
            var sql: String {
                "UPDATE orders SET status = 'processed', updated_at = ? WHERE status = 'pending' AND id IN ("
                    + StatementShape.placeholders(ids.count) + ")"
            }
            var bindings: [MariaDBValue] { [.string(at.databaseText)] + ids.map { .int($0) } }
        }

        /// Rows past their time, at most 1000 per statement so a purge never holds many locks.
        struct Purge: MariaDBCommand {
            let sql: String
            let before: Timestamp
            var bindings: [MariaDBValue] { [.string(before.databaseText)] }

            static func idempotencyKeys(before: Timestamp) -> Purge {
                Purge(sql: "DELETE FROM idempotency_keys WHERE created_at < ? LIMIT 1000", before: before)
            }
            static func loginThrottles(before: Timestamp) -> Purge {
                Purge(sql: "DELETE FROM login_throttles WHERE last_attempt_at < ? LIMIT 1000", before: before)
            }
            static func loginFailures(before: Timestamp) -> Purge {
                Purge(sql: "DELETE FROM login_failures WHERE failed_at < ? LIMIT 1000", before: before)
            }
            static func sessions(before: Timestamp) -> Purge {
                Purge(sql: "DELETE FROM sessions WHERE expires_at < ? LIMIT 1000", before: before)
            }
        }
    }
}
