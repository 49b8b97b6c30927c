import Prometheus
import Synchronization

/// One daemon process's metrics as Prometheus scrapes them: the families recorded as things happen
/// (a swift-prometheus registry, each family registered with its help text) and the families read
/// at scrape time (collectors), starting with the process's own and the build's.
public final class MetricsExposition: Sendable {
    public typealias Collector = @Sendable () -> [ScrapedFamily]

    public let registry: PrometheusCollectorRegistry
    private let collectors: Mutex<[Collector]>

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        collectors = Mutex([{ ProcessMetrics.read().families + [StockroomVersion.buildInfo] }])
    }

    /// Adds families read at every scrape, after those already added.
    public func add(_ collector: @escaping Collector) {
        collectors.withLock { $0.append(collector) }
    }

    /// The text exposition format (version 0.0.4).
    public func text() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        for collector in collectors.withLock({ $0 }) {
            for family in collector() { family.write(into: &buffer) }
        }
        return buffer
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
