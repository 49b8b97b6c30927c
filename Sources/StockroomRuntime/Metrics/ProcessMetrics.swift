import Foundation
import Glibc

/// The standard process metrics of Prometheus's client libraries, under their usual names and help
/// texts, read from /proc/self when scraped. What cannot be read is left out.
public struct ProcessMetrics: Sendable, Equatable {
    /// What /proc/self/stat (with the boot time of /proc/stat) says.
    public struct Stat: Sendable, Equatable {
        public var cpuSeconds: Double
        public var residentMemoryBytes: Double
        public var virtualMemoryBytes: Double
        /// Seconds since the Unix epoch.
        public var startTimeSeconds: Double
    }

    public var stat: Stat?
    public var openFileDescriptors: Int?
    public var maxFileDescriptors: Int?

    public static func read() -> ProcessMetrics {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        var metrics = ProcessMetrics()
        if let text = procText("/proc/self/stat"), let boot = procText("/proc/stat").flatMap(bootTime(procStat:)) {
            metrics.stat = parse(stat: text, bootTime: boot, ticksPerSecond: ticks, pageSize: pageSize)
        }
        metrics.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur != rlim_t.max {
            metrics.maxFileDescriptors = Int(limit.rlim_cur)
        }
        return metrics
    }

    /// /proc/PID/stat: the command name is in parentheses and may itself hold spaces and parentheses,
    /// so fields are counted from the last `)`. After it come field 3 (state) onwards: utime (14),
    /// stime (15), starttime (22, ticks after boot), vsize (23, bytes), rss (24, pages).
    public static func parse(stat: String, bootTime: Double, ticksPerSecond: Double, pageSize: Double) -> Stat? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = stat[stat.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        func field(_ number: Int) -> Double? {
            let index = number - 3
            return fields.indices.contains(index) ? Double(fields[index]) : nil
        }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23),
              let resident = field(24) else { return nil }
        return Stat(cpuSeconds: (user + system) / ticksPerSecond, residentMemoryBytes: resident * pageSize,
                    virtualMemoryBytes: virtual, startTimeSeconds: bootTime + start / ticksPerSecond)
    }

    /// The `btime` line of /proc/stat: when the system booted, in seconds since the epoch.
    public static func bootTime(procStat: String) -> Double? {
        for line in procStat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private static func procText(_ path: String) -> String? {
        // /proc files report a size of 0: read to the end rather than by size.
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    public var families: [ScrapedFamily] {
        var families: [ScrapedFamily] = []
        if let stat {
            families += [
                ScrapedFamily("process_cpu_seconds_total", .counter, help: "Total user and system CPU time spent in seconds.",
                              value: stat.cpuSeconds),
                ScrapedFamily("process_resident_memory_bytes", .gauge, help: "Resident memory size in bytes.",
                              value: stat.residentMemoryBytes),
                ScrapedFamily("process_virtual_memory_bytes", .gauge, help: "Virtual memory size in bytes.",
                              value: stat.virtualMemoryBytes),
                ScrapedFamily("process_start_time_seconds", .gauge,
                              help: "Start time of the process since unix epoch in seconds.", value: stat.startTimeSeconds),
            ]
        }
        if let openFileDescriptors {
            families.append(ScrapedFamily("process_open_fds", .gauge, help: "Number of open file descriptors.",
                                          value: Double(openFileDescriptors)))
        }
        if let maxFileDescriptors {
            families.append(ScrapedFamily("process_max_fds", .gauge, help: "Maximum number of open file descriptors.",
                                          value: Double(maxFileDescriptors)))
        }
        return families
    }
}
