import Foundation
import Testing
@testable import MariaDB
@testable import StockroomRuntime

/// `--check-config`'s report: one line per check, and the worst finding decides the exit status.
@Suite struct ConfigurationCheckTests {
    final class Lines {
        var all: [String] = []
    }

    static func check() -> (ConfigurationCheck, Lines) {
        let lines = Lines()
        return (ConfigurationCheck(program: "stockroom-test", output: { lines.all.append($0) }), lines)
    }

    @Test func nothingFailedIsExitZero() {
        var (check, lines) = Self.check()
        check.passed("settings", "read from the environment")
        check.note("socket /x", "a stale socket")
        #expect(check.finish() == 0)
        #expect(lines.all == ["stockroom-test: settings: ok (read from the environment)",
                              "stockroom-test: socket /x: note: a stale socket",
                              "stockroom-test: the configuration is ok"])
    }

    @Test func wouldNotStartOutranksTheDatabase() {
        var (check, _) = Self.check()
        check.failed("database at x", "refused", .databaseUnreachable)
        #expect(check.outcome == .databaseUnreachable)
        check.failed("socket /x", "no directory", .wouldNotStart)
        check.failed("database at y", "refused", .databaseUnreachable)
        #expect(check.outcome == .wouldNotStart)
        #expect(check.finish() == 1)
    }

    @Test func everyBadSettingGetsItsLine() {
        var (check, lines) = Self.check()
        let read = check.settings(inherited: ["STOCKROOM_THREADS": "0", "STOCKROOM_DB_PORT": "x"]) {
            try ResponderSettings(environment: $0)
        }
        #expect(read == nil)
        #expect(lines.all.count == 2)
        #expect(lines.all.allSatisfy { $0.hasPrefix("stockroom-test: settings: FAILED: STOCKROOM_") })
        #expect(check.finish() == 1)
    }

    @Test func anUnreadableEnvironmentFileWouldNotStart() {
        var (check, lines) = Self.check()
        let read = check.settings(inherited: ["STOCKROOM_ENV_FILE": "/nonexistent/stockroom.env"]) {
            try WorkerSettings(environment: $0)
        }
        #expect(read == nil)
        #expect(lines.all == ["stockroom-test: settings: FAILED: cannot read STOCKROOM_ENV_FILE: /nonexistent/stockroom.env: No such file or directory"])
        #expect(check.outcome == .wouldNotStart)
    }

    @Test func theEnvironmentFileIsReadAsAStartReadsIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stockroom-\(UUID().uuidString).env").path
        try Data("STOCKROOM_WORKER_BATCH=7\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        var (check, lines) = Self.check()
        let read = try #require(check.settings(inherited: ["STOCKROOM_ENV_FILE": path, "STOCKROOM_WORKER_BATCH": "3"]) {
            try WorkerSettings(environment: $0)
        })
        #expect(read.settings.batchSize == 7)
        #expect(lines.all == ["stockroom-test: settings: ok (read from the environment and STOCKROOM_ENV_FILE=\(path))"])
    }

    @Test func thePasswordsSourceIsNamedAndAnUnusedVariableNoted() {
        var (check, lines) = Self.check()
        check.passwordSource(in: ["STOCKROOM_DB_PASSWORD_FILE": "/etc/stockroom/db-password", "STOCKROOM_DB_PASSWORD": "x"])
        check.passwordSource(in: [:])
        #expect(lines.all == [
            "stockroom-test: database password: ok (from STOCKROOM_DB_PASSWORD_FILE=/etc/stockroom/db-password)",
            "stockroom-test: database password: note: STOCKROOM_DB_PASSWORD is set too, and not used",
            "stockroom-test: database password: note: none set (no STOCKROOM_DB_PASSWORD_FILE, no credential db-password, no STOCKROOM_DB_PASSWORD)",
        ])
        #expect(check.finish() == 0)
    }

    @Test func nodesAreNamedAsTheOperatorWroteThem() {
        var configuration = MariaDBConfiguration()
        configuration.endpoints = [MariaDBEndpoint(host: "10.0.0.1", port: 3306), MariaDBEndpoint(host: "fd00::2", port: 3307)]
        #expect(ConfigurationCheck.nodeName(configuration, node: 1, of: 2) == "database node 2 of 2 at [fd00::2]:3307")
        configuration.endpoints = [MariaDBEndpoint(host: "db", port: 3306)]
        #expect(ConfigurationCheck.nodeName(configuration, node: 0, of: 1) == "database at db:3306")
        configuration.unixSocket = "/run/mysqld/mysqld.sock"
        #expect(ConfigurationCheck.nodeName(configuration, node: 0, of: 1) == "database at /run/mysqld/mysqld.sock")
    }
}
