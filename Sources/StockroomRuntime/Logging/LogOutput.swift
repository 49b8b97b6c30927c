import Foundation
import Glibc
import Logging
import PthreadLock

/// Where every logger of the process writes: formats each event as one line, holds back repeated
/// warnings and errors (`RepeatedLineSummarizer`) and writes each line with one write(2).
/// Warnings and above only: info lines such as the worker's `Order #<id> processed` are never
/// held back. The summarizer is behind a `PthreadLock`: during a database outage every responder
/// thread logs a warning per request, so the lock is contended.
public final class LogOutput: Sendable {
    /// Metadata that differs from one request to the next, so it does not tell lines apart; the
    /// summary lines leave it out.
    public static let perRequestKeys: Set<String> = ["request.id", "thread"]
    public static let summarizedLevels: ClosedRange<Logger.Level> = .warning ... .critical

    public let format: LogLineFormat
    private let write: @Sendable (String) -> Void
    private let monotonicSeconds: @Sendable () -> Double
    private let epochMilliseconds: @Sendable () -> Int64
    private let summarizer: PthreadLock<RepeatedLineSummarizer>

    public init(format: LogLineFormat, summaryInterval: Double,
                write: @escaping @Sendable (String) -> Void = LogOutput.writeToStandardError,
                monotonicSeconds: @escaping @Sendable () -> Double = { MonotonicClock.now() },
                epochMilliseconds: @escaping @Sendable () -> Int64 = LogOutput.wallClockMilliseconds) {
        self.format = format
        self.write = write
        self.monotonicSeconds = monotonicSeconds
        self.epochMilliseconds = epochMilliseconds
        summarizer = PthreadLock(RepeatedLineSummarizer(interval: summaryInterval))
    }

    /// Seconds; 0 writes every line. A reload may change it.
    public var summaryInterval: Double {
        get { locked { $0.interval } }
        set { locked { $0.interval = newValue } }
    }

    public func emit(level: Logger.Level, label: String, message: String, metadata: [String: String]) {
        if Self.summarizedLevels.contains(level) {
            let key = RepeatedLineSummarizer.Key(
                level: level, label: label, message: message,
                metadata: metadata.filter { !Self.perRequestKeys.contains($0.key) })
            let now = monotonicSeconds()
            guard locked({ $0.record(key, at: now) }) == .write else { return }
        }
        write(format.line(level: level, label: label, message: message, metadata: metadata,
                          epochMilliseconds: epochMilliseconds()))
    }

    /// Writes the summary lines that are due; `startSummaryThread` calls it every second.
    public func writeDueSummaries() {
        let now = monotonicSeconds()
        writeReports(locked { $0.isEmpty ? [] : $0.reports(at: now) })
    }

    /// At exit: the counts of whatever is still held back.
    public func drain() {
        let now = monotonicSeconds()
        writeReports(locked { $0.drain(at: now) })
    }

    /// A thread that writes due summary lines once a second, for the life of the process.
    public func startSummaryThread() {
        let thread = Thread { [self] in
            while true {
                sleep(1)
                writeDueSummaries()
            }
        }
        thread.name = "log-summaries"
        thread.start()
    }

    private func writeReports(_ reports: [RepeatedLineSummarizer.Report]) {
        for report in reports {
            write(format.line(level: report.key.level, label: report.key.label, message: report.message,
                              metadata: report.key.metadata, epochMilliseconds: epochMilliseconds()))
        }
    }

    private func locked<Result>(_ body: (inout RepeatedLineSummarizer) -> Result) -> Result {
        summarizer.withLock(body)
    }

    /// One write(2) per line where the kernel takes it whole, so lines from different threads do
    /// not interleave.
    @Sendable public static func writeToStandardError(_ line: String) {
        StandardError.write(line)
    }

    @Sendable public static func wallClockMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
