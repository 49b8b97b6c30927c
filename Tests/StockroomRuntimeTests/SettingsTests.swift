import Foundation
import Logging
import Testing
@testable import MariaDB
@testable import StockroomRuntime

@Suite struct SettingsTests {
    @Test func unsetAndEmptyValuesGiveTheDocumentedDefaults() throws {
        for environment in [[:], Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.name, "") })] {
            let responder = try ResponderSettings(environment: environment)
            #expect(responder.threadCount == Int(Setting.threads.defaultText))
            #expect(responder.socketPath == Setting.socket.defaultText)
            #expect(responder.socketGroup == nil)
            #expect(responder.shutdownTimeoutSeconds == Double(Setting.shutdownTimeout.defaultText))
            #expect(responder.connectionIdleTimeoutSeconds == Int(Setting.idleTimeout.defaultText))
            #expect(responder.sessionLifetimeSeconds == Int64(Setting.sessionLifetime.defaultText))
            #expect(responder.logLevel == .info)
            #expect(!responder.testHooksEnabled)
            #expect(responder.database.endpoints == [MariaDBEndpoint(host: Setting.databaseHost.defaultText,
                                                                      port: UInt32(Setting.databasePort.defaultText)!)])
            #expect(responder.database.unixSocket == nil)
            #expect(responder.database.statementCacheCapacity == Int(Setting.statementCache.defaultText))
            #expect(responder.database.lockWaitTimeout == UInt32(Setting.lockWaitTimeout.defaultText))
            #expect(responder.database.readTimeout == UInt32(Setting.databaseTimeout.defaultText))
            let worker = try WorkerSettings(environment: environment)
            #expect(worker.pollIntervalSeconds == Double(Setting.workerPollInterval.defaultText))
            #expect(worker.batchSize == Int(Setting.workerBatch.defaultText))
            #expect(worker.processingDelaySeconds == Double(Setting.processDelay.defaultText))
            #expect(worker.database.readCommitted)
            #expect(try OperatorSettings(environment: environment).migrationsDirectory == nil)
        }
    }

    @Test func givenValuesAreRead() throws {
        let settings = try ResponderSettings(environment: [
            "STOCKROOM_THREADS": "8", "STOCKROOM_DB_PORT": "3307", "STOCKROOM_DB_SOCKET": "/run/db.sock",
            "LOG_LEVEL": "DEBUG", "STOCKROOM_SHUTDOWN_TIMEOUT": "2.5", "STOCKROOM_TEST_HOOKS": "1",
            "STOCKROOM_SOCKET_GROUP": "www-data",
        ])
        #expect(settings.threadCount == 8)
        #expect(settings.database.endpoints.map(\.port) == [3307])
        #expect(settings.database.unixSocket == "/run/db.sock")
        #expect(settings.logLevel == .debug)
        #expect(settings.shutdownTimeoutSeconds == 2.5)
        #expect(settings.testHooksEnabled)
        #expect(settings.socketGroup == "www-data")
        let flagged = try ResponderSettings(environment: ["STOCKROOM_THREADS": "8", "STOCKROOM_SOCKET": "/a.sock"],
                                            socketFlag: "/b.sock", threadsFlag: 4)
        #expect(flagged.threadCount == 4 && flagged.socketPath == "/b.sock")
    }

    /// A cluster's nodes in the operator's order; a port left out is STOCKROOM_DB_PORT's.
    @Test func clusterHostsAreReadInOrder() throws {
        let settings = try WorkerSettings(environment: [
            "STOCKROOM_DB_HOSTS": "10.0.0.3:3307, db-b ,[fd00::1]:3310", "STOCKROOM_DB_PORT": "3399", "STOCKROOM_DB_HOST": "ignored",
        ])
        #expect(settings.database.endpoints == [
            MariaDBEndpoint(host: "10.0.0.3", port: 3307), MariaDBEndpoint(host: "db-b", port: 3399),
            MariaDBEndpoint(host: "fd00::1", port: 3310),
        ])
        #expect(settings.database.endpoints.map(\.description) == ["10.0.0.3:3307", "db-b:3399", "[fd00::1]:3310"])
        // Health is kept per node: the settings' endpoints each have theirs.
        settings.database.nodeHealth.recordFailed(0, configuration: settings.database, logger: Logger(label: "test"))
        #expect(settings.database.nodeHealth.preferredNode == 1)
        let single = try OperatorSettings(environment: ["STOCKROOM_DB_HOSTS": "db1:3307"])
        #expect(single.database.endpoints == [MariaDBEndpoint(host: "db1", port: 3307)])
    }

    /// The same rule for every value: each bad one is named, whichever program reads it.
    @Test(arguments: [
        ("STOCKROOM_DB_PORT", "abc"), ("STOCKROOM_DB_PORT", "70000"), ("STOCKROOM_DB_PORT", "0"),
        ("STOCKROOM_THREADS", "0"), ("STOCKROOM_THREADS", "many"), ("STOCKROOM_THREADS", "2000"),
        ("LOG_LEVEL", "loud"), ("STOCKROOM_SHUTDOWN_TIMEOUT", "-1"), ("STOCKROOM_SHUTDOWN_TIMEOUT", "inf"),
        ("STOCKROOM_SHUTDOWN_TIMEOUT", "nan"), ("STOCKROOM_IDLE_TIMEOUT", "0"), ("STOCKROOM_SESSION_TTL", "-5"),
        ("STOCKROOM_TEST_HOOKS", "yes"), ("STOCKROOM_DB_TIMEOUT", "0"), ("STOCKROOM_LOCK_WAIT_TIMEOUT", "1s"),
        ("STOCKROOM_DB_STATEMENT_CACHE", "5000"), ("STOCKROOM_DB_PORT", " 3306"),
        ("STOCKROOM_DB_HOSTS", "db1:3306,db1:3306"), ("STOCKROOM_DB_HOSTS", "db1,,db2"),
        ("STOCKROOM_DB_HOSTS", "db1:0,db2"), ("STOCKROOM_DB_HOSTS", "db1:70000,db2"), ("STOCKROOM_DB_HOSTS", "db1:x,db2"),
        ("STOCKROOM_DB_HOSTS", "::1,db2"), ("STOCKROOM_DB_HOSTS", "[::1,db2"), ("STOCKROOM_DB_HOSTS", "db 1,db2"),
        ("STOCKROOM_DB_HOSTS", "db1;db2"), ("STOCKROOM_DB_HOSTS", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"),
    ])
    func aBadResponderValueIsRefusedByName(name: String, value: String) {
        #expect {
            try ResponderSettings(environment: [name: value])
        } throws: { error in
            "\(error)".hasPrefix("\(name) must be ") && "\(error)".contains("got \"\(value)\"")
        }
    }

    @Test(arguments: [
        ("STOCKROOM_WORKER_BATCH", "0"), ("STOCKROOM_WORKER_POLL_INTERVAL", "0"), ("STOCKROOM_PROCESS_DELAY", "-0.5"),
        ("STOCKROOM_PROCESS_DELAY", "1e3"), ("LOG_LEVEL", "verbose"), ("STOCKROOM_DB_PORT", "x"),
    ])
    func aBadWorkerValueIsRefusedByName(name: String, value: String) {
        #expect {
            try WorkerSettings(environment: [name: value])
        } throws: { error in
            "\(error)".hasPrefix("\(name) must be ")
        }
    }

    @Test func everyProblemIsReportedAtOnceAndAPasswordIsNeverEchoed() throws {
        let error = #expect(throws: SettingsError.self) {
            try OperatorSettings(environment: ["STOCKROOM_DB_PORT": "x", "STOCKROOM_DB_TIMEOUT": "y"])
        }
        #expect(error?.problems.count == 2)
        // A password is any text, so it cannot be bad; the rule for secrets is checked on the reader.
        var reader = SettingsReader(environment: ["STOCKROOM_DB_PASSWORD": "s3cret"])
        #expect(reader.text(.databasePassword) == "s3cret")
        #expect(throws: Never.self) { try reader.finish() }
        #expect(throws: SettingsError.self) {
            try ResponderSettings(environment: [:], threadsFlag: 0)
        }
    }

    @Test func restartOnlyChangesNameTheSocketSettings() throws {
        let running = try ResponderSettings(environment: ["STOCKROOM_SOCKET": "/a.sock"])
        let next = try ResponderSettings(environment: ["STOCKROOM_SOCKET": "/b.sock", "STOCKROOM_SOCKET_GROUP": "g"])
        #expect(running.restartOnlyChanges(to: next).map(\.name) == ["STOCKROOM_SOCKET", "STOCKROOM_SOCKET_GROUP"])
        #expect(running.restartOnlyChanges(to: running).isEmpty)
    }

    @Test func theCatalogueNamesEachVariableOnce() {
        #expect(Set(Setting.all.map(\.name)).count == Setting.all.count)
        #expect(Setting.all.allSatisfy { !$0.meaning.isEmpty && !$0.programs.isEmpty })
    }
}
