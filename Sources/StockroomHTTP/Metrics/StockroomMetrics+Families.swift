import Prometheus

extension StockroomMetrics {
    /// The name and help text of every family the responder records: the one place they are written
    /// (the registry stops the process if one name is registered with two help texts).
    enum Family {
        static var requests: MetricNameDescriptor {
            family("http", "requests", unit: "total",
                   "Requests answered, by route pattern (or unmatched), method (or other) and status.")
        }
        static var requestDuration: MetricNameDescriptor {
            family("http", "request_duration", unit: "seconds", "Time from routing a request to its answer, by route pattern.")
        }
        static var slowRequests: MetricNameDescriptor {
            family("http", "slow_requests", unit: "total",
                   "Requests slower than STOCKROOM_SLOW_REQUEST_MS, by route pattern; each is also logged at notice level.")
        }
        static var ordersPlaced: MetricNameDescriptor {
            family(nil, "orders_placed", unit: "total", "Orders created, directly or by checkout; idempotent replays are not counted.")
        }
        static var stockConflicts: MetricNameDescriptor {
            family(nil, "stock_conflicts", unit: "total",
                   "Requests answered 409 insufficient_stock (an order, a checkout or a cart line wanting more than the stock).")
        }
        static var promoCodesExhausted: MetricNameDescriptor {
            family(nil, "promo_code_exhausted", unit: "total", "Requests answered 409 promo_code_exhausted.")
        }
        static var orderLockWait: MetricNameDescriptor {
            family("order", "lock_wait", unit: "seconds",
                   "Per order placed: from sending SELECT ... FOR UPDATE to holding the product row locks, in the attempt that committed.")
        }
        static var orderLockHold: MetricNameDescriptor {
            family("order", "lock_hold", unit: "seconds", "Per order placed: from getting the product row locks to the end of COMMIT.")
        }
        static var checkoutLockWait: MetricNameDescriptor {
            family("checkout", "lock_wait", unit: "seconds",
                   "Per checkout: from sending SELECT ... FOR UPDATE on the products to holding their row locks, in the attempt that committed.")
        }
        static var checkoutLockHold: MetricNameDescriptor {
            family("checkout", "lock_hold", unit: "seconds", "Per checkout: from getting the product row locks to the end of COMMIT.")
        }
        static var transactionRetries: MetricNameDescriptor {
            family("db", "transaction_retries", unit: "total",
                   "Transactions run again after a deadlock, a lock wait timeout or a Galera certification failure.")
        }
        static var failovers: MetricNameDescriptor {
            family("db", "failovers", unit: "total",
                   "Transactions and reads run again on a new connection (another node with STOCKROOM_DB_HOSTS) because theirs was lost.")
        }
        static var connectionsOpen: MetricNameDescriptor {
            family("db", "connections_open", unit: "", "MariaDB connections this process holds (at most one per responder thread).")
        }
        static var connectionsInUse: MetricNameDescriptor {
            family("db", "connections_in_use", unit: "", "Requests using their thread's MariaDB connection now.")
        }
        static var databaseErrors: MetricNameDescriptor {
            family("db", "errors", unit: "total", "Database errors that reached an answer, by MariaDB error code.")
        }

        private static func family(_ subsystem: String?, _ name: String, unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "stockroom", subsystem: subsystem, metricName: name, unitName: unit, helpText: help)
        }
    }
}
