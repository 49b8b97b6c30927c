import Glibc
import Testing
@testable import StockroomRuntime

@Suite struct EnvironmentFileTests {
    @Test func plainValuesCommentsAndBlankLines() throws {
        let values = try EnvironmentFile.parse("""
            # the database
            STOCKROOM_DB_USER=stockroom

              ; a systemd-style comment
            STOCKROOM_THREADS=32
            EMPTY=
            WITH_EQUALS=a=b=c
            """)
        #expect(values == ["STOCKROOM_DB_USER": "stockroom", "STOCKROOM_THREADS": "32", "EMPTY": "", "WITH_EQUALS": "a=b=c"])
    }

    @Test func exportPrefixAndLaterLinesWin() throws {
        let values = try EnvironmentFile.parse("export A=1\nexport\tB=2\nA=3\nexported=4\n")
        #expect(values == ["A": "3", "B": "2", "exported": "4"])
    }

    @Test func quotedValues() throws {
        let values = try EnvironmentFile.parse(#"""
            SINGLE='a b $c "d" \e'
            DOUBLE="a b \"q\" \\ \$ \` \n"
            JOINED=a'b c'"d"
            TRAILING='x'   
            """#)
        #expect(values["SINGLE"] == #"a b $c "d" \e"#)
        #expect(values["DOUBLE"] == #"a b "q" \ $ ` \n"#)
        #expect(values["JOINED"] == "ab cd")
        #expect(values["TRAILING"] == "x")
    }

    /// What `printf 'export X=%q'` writes for values without control characters.
    @Test func shellEscapesAsPrintfQWritesThem() throws {
        let values = try EnvironmentFile.parse(#"""
            export STOCKROOM_DB_SOCKET=/work/main/.run/chaos-40123/mariadb/mysqld.sock
            export PASSWORD=pa\ ss\'wo\"rd\$1
            export STOCKROOM_PROCESS_DELAY=0.5
            """#)
        #expect(values["STOCKROOM_DB_SOCKET"] == "/work/main/.run/chaos-40123/mariadb/mysqld.sock")
        #expect(values["PASSWORD"] == #"pa ss'wo"rd$1"#)
        #expect(values["STOCKROOM_PROCESS_DELAY"] == "0.5")
    }

    @Test func carriageReturnLineEnds() throws {
        #expect(try EnvironmentFile.parse("A=1\r\nB='2'\r\n") == ["A": "1", "B": "2"])
    }

    @Test(arguments: [
        ("A B=1", 1, "expected NAME"),
        ("A =1", 1, "expected NAME"),
        ("1A=1", 1, "expected NAME"),
        ("=1", 1, "expected NAME"),
        ("just words", 1, "expected NAME"),
        ("OK=1\nA='open", 2, "unterminated single quote"),
        ("A=\"open", 1, "unterminated double quote"),
        ("A=1 # comment", 1, "text after the value"),
        ("A=1 B=2", 1, "text after the value"),
        ("A=$HOME", 1, "unquoted $"),
        ("A=$'\\n'", 1, "unquoted $"),
        ("A=\"$HOME\"", 1, "unescaped $"),
        ("A=`date`", 1, "unquoted $ or `"),
        ("A=a;b", 1, "shell operator"),
        ("A=continued\\", 1, "continued"),
    ])
    func refusesWhatShellAndSystemdReadDifferently(text: String, line: Int, reason: String) {
        do {
            _ = try EnvironmentFile.parse(text)
            Issue.record("parsed \(text)")
        } catch let error as EnvironmentFile.Error {
            #expect(error.line == line)
            #expect(error.reason.contains(reason), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func errorsNeverQuoteTheValue() {
        do {
            _ = try EnvironmentFile.parse("STOCKROOM_DB_PASSWORD='s3cret")
            Issue.record("parsed")
        } catch {
            #expect(!"\(error)".contains("s3cret"))
        }
    }

    @Test func theFileWinsOverTheInheritedEnvironment() throws {
        let path = try temporaryFile("STOCKROOM_SESSION_TTL=60\nexport LOG_LEVEL=debug\nSTOCKROOM_ENV_FILE=/elsewhere\n")
        defer { unlink(path) }
        let merged = try EnvironmentFile.environment(over: [
            "STOCKROOM_ENV_FILE": path, "STOCKROOM_SESSION_TTL": "86400", "STOCKROOM_THREADS": "8",
        ])
        #expect(merged["STOCKROOM_SESSION_TTL"] == "60")
        #expect(merged["LOG_LEVEL"] == "debug")
        #expect(merged["STOCKROOM_THREADS"] == "8")
        #expect(merged["STOCKROOM_ENV_FILE"] == path, "the file cannot name another one")
    }

    @Test func withoutTheVariableTheEnvironmentIsAsInherited() throws {
        #expect(try EnvironmentFile.environment(over: ["A": "1"]) == ["A": "1"])
        #expect(try EnvironmentFile.environment(over: ["A": "1", "STOCKROOM_ENV_FILE": ""]) == ["A": "1", "STOCKROOM_ENV_FILE": ""])
    }

    @Test func aMissingOrBrokenFileIsAnErrorNamingIt() throws {
        #expect(throws: EnvironmentFile.Error.self) {
            try EnvironmentFile.environment(over: ["STOCKROOM_ENV_FILE": "/nonexistent/stockroom.env"])
        }
        let path = try temporaryFile("GOOD=1\nBAD LINE\n")
        defer { unlink(path) }
        do {
            _ = try EnvironmentFile.read(path: path)
            Issue.record("parsed")
        } catch let error as EnvironmentFile.Error {
            #expect(error.path == path)
            #expect(error.line == 2)
            #expect("\(error)".hasPrefix("\(path), line 2: "))
        }
    }

    private func temporaryFile(_ contents: String) throws -> String {
        var template = Array("/tmp/stockroom-env-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        let bytes = Array(contents.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return String(cString: template)
    }
}
