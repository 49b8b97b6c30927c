import Testing
@testable import StockroomRuntime

/// The settings of issue 12: the slow-request threshold and the worker's metrics address.
@Suite struct MetricsSettingsTests {
    @Test func theSlowRequestThresholdIsMillisecondsOrOff() throws {
        #expect(try ResponderSettings(environment: [:]).slowRequestMilliseconds == 1000)
        #expect(try ResponderSettings(environment: ["STOCKROOM_SLOW_REQUEST_MS": "0"]).slowRequestMilliseconds == 0)
        #expect(try ResponderSettings(environment: ["STOCKROOM_SLOW_REQUEST_MS": "250"]).slowRequestMilliseconds == 250)
        for refused in ["-1", "1.5", "3600001", "fast"] {
            #expect(throws: SettingsError.self, "took \(refused)") {
                try ResponderSettings(environment: ["STOCKROOM_SLOW_REQUEST_MS": refused])
            }
        }
    }

    @Test func theWorkerMetricsAddressIsLoopbackOnly() throws {
        #expect(try WorkerSettings(environment: [:]).metricsAddress == nil)
        #expect(try WorkerSettings(environment: ["STOCKROOM_WORKER_METRICS_ADDRESS": "127.0.0.1:9465"]).metricsAddress?.port == 9465)
        let error = #expect(throws: SettingsError.self) {
            try WorkerSettings(environment: ["STOCKROOM_WORKER_METRICS_ADDRESS": "0.0.0.0:9465"])
        }
        #expect(error?.description.contains("STOCKROOM_WORKER_METRICS_ADDRESS must be a loopback address") == true)
    }
}
