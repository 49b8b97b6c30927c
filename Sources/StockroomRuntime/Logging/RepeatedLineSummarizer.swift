import Logging

/// Decides which repeats of a line to hold back, so that an outage that fails every request logs a
/// few lines rather than one per request. The first line of a burst is written; repeats within
/// `interval` seconds are counted, and one line per interval reports the count; once a whole
/// interval passes without a repeat the burst is over, and a last line gives its total.
/// A pure state machine: the caller passes the (monotonic) time and writes what it returns.
struct RepeatedLineSummarizer {
    /// What makes two lines the same: everything but the metadata that differs per request.
    struct Key: Hashable, Sendable {
        var level: Logger.Level
        var label: String
        var message: String
        var metadata: [String: String]
    }

    enum Decision: Equatable {
        case write
        case hold
    }

    /// A line to write in the name of the held-back ones: `key`'s level, label and metadata with
    /// this message.
    struct Report: Equatable {
        var key: Key
        var message: String
    }

    private struct Burst {
        var firstSeen: Double
        var lastSeen: Double
        var periodStart: Double
        var held = 0
        var total = 1
    }

    /// 0: every line is written.
    var interval: Double
    /// Distinct lines tracked at once; past it, new lines are written without being tracked.
    let capacity: Int
    private var bursts: [Key: Burst] = [:]

    init(interval: Double, capacity: Int = 1024) {
        self.interval = interval
        self.capacity = capacity
    }

    var isEmpty: Bool { bursts.isEmpty }

    mutating func record(_ key: Key, at now: Double) -> Decision {
        guard interval > 0 else { return .write }
        if var burst = bursts[key] {
            burst.lastSeen = now
            burst.held += 1
            burst.total += 1
            bursts[key] = burst
            return .hold
        }
        if bursts.count < capacity {
            bursts[key] = Burst(firstSeen: now, lastSeen: now, periodStart: now)
        }
        return .write
    }

    /// The lines due at `now`: the total of every burst that has been quiet for a whole interval
    /// (which is then forgotten, so its next occurrence is written again), and a count for every
    /// other burst whose interval has passed with repeats held.
    mutating func reports(at now: Double) -> [Report] {
        var reports: [Report] = []
        for (key, var burst) in bursts {
            if now - burst.lastSeen >= interval - Self.slack {
                // Over: its total says what a last count would.
                bursts[key] = nil
                if burst.total > 1 {
                    reports.append(Report(key: key, message: Self.over(key.message, burst.total, burst.lastSeen - burst.firstSeen)))
                }
            } else if burst.held > 0 && now - burst.periodStart >= interval - Self.slack {
                reports.append(Report(key: key, message: Self.repeated(key.message, burst.held, now - burst.periodStart)))
                burst.held = 0
                burst.periodStart = now
                bursts[key] = burst
            }
        }
        return reports
    }

    /// At exit: the counts still held, whatever the time.
    mutating func drain(at now: Double) -> [Report] {
        defer { bursts = [:] }
        return bursts.compactMap { key, burst in
            burst.held > 0 ? Report(key: key, message: Self.repeated(key.message, burst.held, now - burst.periodStart)) : nil
        }
    }

    /// A millisecond, so that floating-point noise does not put a report off by a whole tick.
    private static let slack = 0.001

    static func repeated(_ message: String, _ count: Int, _ seconds: Double) -> String {
        "\(message) (repeated \(count) \(count == 1 ? "time" : "times") in the last \(LogLineFormat.seconds(seconds)) s)"
    }

    static func over(_ message: String, _ total: Int, _ seconds: Double) -> String {
        "\(message) (burst over: \(total) times in \(LogLineFormat.seconds(seconds)) s)"
    }
}
