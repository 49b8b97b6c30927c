import Testing
@testable import StockroomRuntime

/// /proc/self/stat and /proc/stat as the process metrics read them.
@Suite struct ProcessMetricsTests {
    /// A command name with a space and parentheses: fields are counted from the last `)`.
    static let stat = "4242 (stock (room) x) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 50 0 0 20 0 33 0 "
        + "123400 1130811392 6682 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n"

    @Test func statFieldsBecomeSecondsAndBytes() throws {
        let parsed = try #require(ProcessMetrics.parse(stat: Self.stat, bootTime: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096))
        #expect(parsed.cpuSeconds == 3)  // (250 + 50) / 100
        #expect(parsed.startTimeSeconds == 1_700_001_234)  // boot + 123400 / 100
        #expect(parsed.virtualMemoryBytes == 1_130_811_392)
        #expect(parsed.residentMemoryBytes == 6682 * 4096)
    }

    @Test func aTruncatedStatIsNothing() {
        #expect(ProcessMetrics.parse(stat: "4242 (x) S 1 2 3", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessMetrics.parse(stat: "no parenthesis", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
    }

    @Test func bootTimeIsTheBtimeLine() {
        #expect(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\nintr 5\nbtime 1796500000\nprocesses 9\n") == 1_796_500_000)
        #expect(ProcessMetrics.bootTime(procStat: "cpu  1 2 3\n") == nil)
    }

    @Test func thisProcessCanBeRead() throws {
        let metrics = ProcessMetrics.read()
        let stat = try #require(metrics.stat)
        #expect(stat.residentMemoryBytes > 0)
        #expect(stat.startTimeSeconds > 1_600_000_000)
        #expect((metrics.openFileDescriptors ?? 0) >= 3)
        let names = metrics.families.map(\.name)
        #expect(names == ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_virtual_memory_bytes",
                          "process_start_time_seconds", "process_open_fds"] + (metrics.maxFileDescriptors == nil ? [] : ["process_max_fds"]))
    }
}
