import Logging
import Synchronization
import Testing
@testable import StockroomRuntime

@Suite struct RepeatedLineSummarizerTests {
    typealias Key = RepeatedLineSummarizer.Key
    static let outage = Key(level: .warning, label: "stockroom-fcgi", message: "database unavailable", metadata: ["db.error": "2002"])
    static let other = Key(level: .warning, label: "stockroom-fcgi", message: "database unavailable", metadata: ["db.error": "2013"])

    @Test func firstIsWrittenRepeatsAreCountedOncePerInterval() {
        var summarizer = RepeatedLineSummarizer(interval: 10)
        #expect(summarizer.record(Self.outage, at: 0) == .write)
        for i in 1...1234 { #expect(summarizer.record(Self.outage, at: Double(i) / 200) == .hold) }
        #expect(summarizer.reports(at: 9.9).isEmpty)
        let reports = summarizer.reports(at: 10)
        #expect(reports == [.init(key: Self.outage, message: "database unavailable (repeated 1234 times in the last 10 s)")])
        #expect(summarizer.reports(at: 11).isEmpty)
    }

    @Test func aQuietIntervalEndsTheBurstWithItsTotal() {
        var summarizer = RepeatedLineSummarizer(interval: 10)
        var reports: [Double: [String]] = [:]
        // One repeat a second from 0 to 25 s, the summaries looked at every second, 0.4 s later (as LogOutput does).
        for second in 0...40 {
            let t = Double(second)
            if second <= 25 { #expect(summarizer.record(Self.outage, at: t) == (second == 0 ? .write : .hold)) }
            let due = summarizer.reports(at: t + 0.4).map(\.message)
            if !due.isEmpty { reports[t + 0.4] = due }
        }
        #expect(reports == [
            10.4: ["database unavailable (repeated 10 times in the last 10 s)"],
            20.4: ["database unavailable (repeated 10 times in the last 10 s)"],
            30.4: ["database unavailable (repeated 5 times in the last 10 s)"],
            // The last repeat was at 25: quiet for a whole interval at 35.
            35.4: ["database unavailable (burst over: 26 times in 25 s)"],
        ])
        #expect(summarizer.isEmpty)
        // A new burst starts with a written line again.
        #expect(summarizer.record(Self.outage, at: 41) == .write)
    }

    @Test func aLineSeenOnceLeavesNoSummary() {
        var summarizer = RepeatedLineSummarizer(interval: 10)
        #expect(summarizer.record(Self.outage, at: 0) == .write)
        #expect(summarizer.reports(at: 10).isEmpty)
        #expect(summarizer.isEmpty)
        #expect(summarizer.record(Self.outage, at: 12) == .write)
    }

    @Test func differentMetadataOrLevelIsAnotherLine() {
        var summarizer = RepeatedLineSummarizer(interval: 10)
        var error = Self.outage
        error.level = .error
        #expect(summarizer.record(Self.outage, at: 0) == .write)
        #expect(summarizer.record(Self.other, at: 0) == .write)
        #expect(summarizer.record(error, at: 0) == .write)
        #expect(summarizer.record(Self.other, at: 1) == .hold)
    }

    @Test func zeroIntervalWritesEverything() {
        var summarizer = RepeatedLineSummarizer(interval: 0)
        for t in 0..<5 { #expect(summarizer.record(Self.outage, at: Double(t)) == .write) }
        #expect(summarizer.isEmpty)
    }

    @Test func pastCapacityNewLinesAreWrittenUntracked() {
        var summarizer = RepeatedLineSummarizer(interval: 10, capacity: 2)
        let keys = (0..<3).map { Key(level: .error, label: "l", message: "m\($0)", metadata: [:]) }
        for key in keys { #expect(summarizer.record(key, at: 0) == .write) }
        #expect(summarizer.record(keys[2], at: 1) == .write)
        #expect(summarizer.record(keys[0], at: 1) == .hold)
    }

    @Test func drainReportsWhatIsHeld() {
        var summarizer = RepeatedLineSummarizer(interval: 10)
        _ = summarizer.record(Self.outage, at: 0)
        _ = summarizer.record(Self.outage, at: 1)
        _ = summarizer.record(Self.other, at: 1)
        #expect(summarizer.drain(at: 4.24).map(\.message) == ["database unavailable (repeated 1 time in the last 4.2 s)"])
        #expect(summarizer.isEmpty)
    }
}

@Suite struct LogOutputTests {
    /// What a LogOutput wrote, and a clock the test moves.
    final class Capture: Sendable {
        let lines = Mutex<[String]>([])
        let now = Mutex<Double>(0)

        func output(journal: Bool = false, interval: Double = 10) -> LogOutput {
            LogOutput(format: LogLineFormat(journal: journal), summaryInterval: interval,
                      write: { line in self.lines.withLock { $0.append(line) } },
                      monotonicSeconds: { self.now.withLock { $0 } },
                      epochMilliseconds: { 1_796_523_179_123 })
        }

        var written: [String] { lines.withLock { $0 } }
    }

    @Test func warningsAreSummarizedAcrossRequestsInfoIsNot() {
        let capture = Capture()
        let output = capture.output(journal: true)
        for request in 0..<100 {
            capture.now.withLock { $0 = Double(request) * 0.09 }
            output.emit(level: .warning, label: "stockroom-fcgi", message: "database unavailable",
                        metadata: ["db.error": "2002", "request.id": "r\(request)", "thread": "\(request % 32)", "pid": "7"])
            output.emit(level: .info, label: "stockroom-worker", message: "Order #\(request) processed", metadata: ["order.id": "\(request)"])
        }
        let written = capture.written
        #expect(written.count == 101)
        #expect(written[0] == "<4>level=warning logger=stockroom-fcgi msg=\"database unavailable\" db.error=2002 pid=7 request.id=r0 thread=0\n")
        #expect(written.filter { $0.contains("processed") }.count == 100)
        capture.now.withLock { $0 = 10 }
        output.writeDueSummaries()
        // The summary keeps the identifying metadata, not one request's id or thread.
        #expect(capture.written.last == "<4>level=warning logger=stockroom-fcgi msg=\"database unavailable (repeated 99 times in the last 10 s)\" db.error=2002 pid=7\n")
        capture.now.withLock { $0 = 20 }
        output.writeDueSummaries()
        #expect(capture.written.last == "<4>level=warning logger=stockroom-fcgi msg=\"database unavailable (burst over: 100 times in 8.9 s)\" db.error=2002 pid=7\n")
    }

    @Test func drainAtExitAndIntervalChange() {
        let capture = Capture()
        let output = capture.output(interval: 10)
        for _ in 0..<3 { output.emit(level: .error, label: "w", message: "batch failed", metadata: [:]) }
        capture.now.withLock { $0 = 2 }
        output.drain()
        #expect(capture.written.count == 2)
        #expect(capture.written.last?.contains("msg=\"batch failed (repeated 2 times in the last 2.0 s)\"") == true)
        output.summaryInterval = 0
        for _ in 0..<3 { output.emit(level: .error, label: "w", message: "batch failed", metadata: [:]) }
        #expect(capture.written.count == 5)
    }

    /// 32 threads log one warning each per "request"; every one is either written or counted.
    @Test func threadsLoseNoCount() async {
        let capture = Capture()
        let output = capture.output()
        await withTaskGroup(of: Void.self) { group in
            for thread in 0..<32 {
                group.addTask {
                    for request in 0..<500 {
                        output.emit(level: .warning, label: "l", message: "database unavailable",
                                    metadata: ["request.id": "\(thread)-\(request)", "thread": "\(thread)"])
                    }
                }
            }
        }
        capture.now.withLock { $0 = 10 }
        output.writeDueSummaries()
        let written = capture.written
        #expect(written.count == 2)
        #expect(written.last?.contains("burst over: \(32 * 500) times") == true)
    }
}
