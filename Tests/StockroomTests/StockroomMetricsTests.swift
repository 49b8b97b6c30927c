import MariaDB
import Prometheus
import StockroomRuntime
import Testing
@testable import StockroomCore
@testable import StockroomHTTP

/// The responder's own families: each registered with a help text, and what the slow-request
/// threshold and the worker's backlog age mean.
@Suite struct StockroomMetricsTests {
    @Test func everyFamilyHasHelpAndType() {
        let metrics = StockroomMetrics()
        let perThread = RequestMetrics(metrics: metrics)
        perThread.record(route: "/health", method: "GET", status: 200, nanoseconds: 1_000_000)
        perThread.record(route: "/health", method: "GET", status: 200, nanoseconds: 2_000_000)
        perThread.recordSlow(route: "/health")
        metrics.databaseError(MariaDBError(code: .init(1213), serverMessage: "deadlock"))
        metrics.orderPlaced(lockWaitNanoseconds: 1000, lockHeldNanoseconds: 2000)
        metrics.checkedOut(lockWaitNanoseconds: 1000, lockHeldNanoseconds: 2000)
        metrics.stockConflict()
        metrics.promoCodeExhausted()
        metrics.transactionRetried()
        metrics.failedOver()
        metrics.connectionOpened()
        metrics.connectionCheckedOut()
        let text = String(decoding: metrics.exposition.text(), as: UTF8.self)
        let lines = text.split(separator: "\n")
        var typed: [Substring] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            typed.append(name)
            #expect(index > 0 && lines[index - 1].hasPrefix("# HELP \(name) "), "no HELP for \(name)")
        }
        for name in ["stockroom_http_requests_total", "stockroom_http_request_duration_seconds", "stockroom_http_slow_requests_total",
                     "stockroom_db_errors_total", "stockroom_orders_placed_total", "stockroom_checkout_lock_hold_seconds",
                     "stockroom_db_connections_open", "stockroom_db_connections_in_use"] {
            #expect(typed.contains(Substring(name)), "no family \(name)")
        }
        #expect(text.contains("stockroom_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 2\n"))
        #expect(text.contains("stockroom_http_slow_requests_total{route=\"/health\"} 1\n"))
        #expect(text.contains("stockroom_db_errors_total{code=\"1213\"} 1\n"))
        #expect(text.contains("stockroom_orders_placed_total 2\n"))
    }

    @Test func aRequestIsSlowPastTheThresholdAndNeverAtZero() {
        var configuration = StockroomConfiguration(database: MariaDBConfiguration())
        #expect(configuration.slowRequestMilliseconds == 1000)
        #expect(!configuration.isSlow(nanoseconds: 1_000_000_000))
        #expect(configuration.isSlow(nanoseconds: 1_000_000_001))
        configuration.slowRequestMilliseconds = 0
        #expect(!configuration.isSlow(nanoseconds: .max))
    }

    @Test func theBacklogAgeIsThatOfTheFirstPendingOrder() {
        let now = Timestamp(secondsSinceEpoch: 1_000)
        #expect(PendingBacklog(count: 0, oldestCreatedAt: nil).oldestAgeSeconds(at: now) == 0)
        #expect(PendingBacklog(count: 3, oldestCreatedAt: Timestamp(secondsSinceEpoch: 940)).oldestAgeSeconds(at: now) == 60)
        // Clocks that disagree never give a negative age.
        #expect(PendingBacklog(count: 1, oldestCreatedAt: Timestamp(secondsSinceEpoch: 1_005)).oldestAgeSeconds(at: now) == 0)
    }
}
