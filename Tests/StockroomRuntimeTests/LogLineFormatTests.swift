import Glibc
import Logging
import Testing
@testable import StockroomRuntime

@Suite struct LogLineFormatTests {
    /// 2026-12-06T02:12:59.123Z
    static let instant: Int64 = 1_796_523_179_123

    static func line(_ level: Logger.Level = .warning, _ message: String = "database unavailable",
                     _ metadata: [String: String] = [:], journal: Bool = false) -> String {
        LogLineFormat(journal: journal).line(level: level, label: "stockroom-fcgi", message: message,
                                             metadata: metadata, epochMilliseconds: instant)
    }

    @Test func logfmtLine() {
        let line = Self.line(.warning, "database unavailable", ["request.id": "abc", "db.error": "2002", "pid": "42"])
        #expect(line == "ts=2026-12-06T02:12:59.123Z level=warning logger=stockroom-fcgi msg=\"database unavailable\" db.error=2002 pid=42 request.id=abc\n")
    }

    @Test(arguments: [
        (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
    ])
    func journalPrefixPerLevel(level: Logger.Level, priority: Int) {
        let line = Self.line(level, "x", ["a": "1"], journal: true)
        #expect(line == "<\(priority)>level=\(level.rawValue) logger=stockroom-fcgi msg=\"x\" a=1\n")
    }

    @Test func journalLineHasNoTimestamp() {
        #expect(!Self.line(journal: true).contains("ts="))
        #expect(!Self.line(journal: true).contains("2026"))
    }

    @Test func millisecondsAreUTCAndPadded() {
        #expect(LogLineFormat.timestamp(epochMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(LogLineFormat.timestamp(epochMilliseconds: 1_000_000_000_007) == "2001-09-09T01:46:40.007Z")
        #expect(LogLineFormat.timestamp(epochMilliseconds: 1_709_164_799_999) == "2024-02-28T23:59:59.999Z")
        #expect(LogLineFormat.timestamp(epochMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("", "\"\""),
        ("two words", "\"two words\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("C:\\path", "\"C:\\\\path\""),
        ("line1\nline2", "\"line1\\nline2\""),
        ("cr\rtab\t", "\"cr\\rtab\\t\""),
        ("bell\u{07}", "\"bell\\u0007\""),
        ("del\u{7F}", "\"del\\u007f\""),
        ("ünïcode", "ünïcode"),
        ("/api/v1/orders?limit=1", "\"/api/v1/orders?limit=1\""),
    ])
    func valuesAreQuotedWhenTheyMustBe(value: String, written: String) {
        #expect(Self.line(.info, "m", ["k": value]).hasSuffix(" k=\(written)\n"))
    }

    @Test func messageIsAlwaysQuotedAndOneLine() {
        let line = Self.line(.error, "unhandled error\nsecond \"line\"", ["error": "Fatal(\"x\")\n  at y"])
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(line.contains(#"msg="unhandled error\nsecond \"line\"""#))
        #expect(line.contains(#"error="Fatal(\"x\")\n  at y""#))
    }

    @Test func keysThatWouldBreakTheLineAreMended() {
        #expect(Self.line(.info, "m", ["a key=\"x\"": "1"]).hasSuffix(" a_key__x_=1\n"))
        #expect(Self.line(.info, "m", ["": "1"]).hasSuffix(" _=1\n"))
    }

    @Test func metadataIsSortedByKey() {
        let line = Self.line(.info, "m", ["z": "1", "a": "2", "m.b": "3", "m.a": "4"])
        #expect(line.hasSuffix(" a=2 m.a=4 m.b=3 z=1\n"))
    }

    @Test func durations() {
        #expect(LogLineFormat.seconds(10.2) == "10")
        #expect(LogLineFormat.seconds(9.96) == "10")
        #expect(LogLineFormat.seconds(4.24) == "4.2")
        #expect(LogLineFormat.seconds(0) == "0.0")
    }
}

@Suite struct JournalStreamTests {
    @Test func parsesDeviceAndInode() {
        let parsed = JournalStream.parse("8:1234")
        #expect(parsed?.device == 8 && parsed?.inode == 1234)
        #expect(JournalStream.parse("8:") == nil)
        #expect(JournalStream.parse("8") == nil)
        #expect(JournalStream.parse("a:1") == nil)
        #expect(JournalStream.parse("1:2:3") == nil)
    }

    @Test func matchesTheDescriptorsFileOnly() throws {
        var template = Array("/tmp/stockroom-journal-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(template)
        }
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        let value = "\(status.st_dev):\(status.st_ino)"
        #expect(JournalStream.isConnected(fileDescriptor: fd, value: value))
        #expect(!JournalStream.isConnected(fileDescriptor: fd, value: "\(status.st_dev):\(status.st_ino + 1)"))
        #expect(!JournalStream.isConnected(fileDescriptor: fd, value: nil))
        #expect(!JournalStream.isConnected(fileDescriptor: fd, value: "garbage"))
        #expect(!JournalStream.isConnected(fileDescriptor: -1, value: value))
    }
}
