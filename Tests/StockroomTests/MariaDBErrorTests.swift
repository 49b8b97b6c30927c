import Testing
@testable import MariaDB

/// Every class of MariaDB error has a deliberate meaning; the HTTP side maps the class.
@Suite struct MariaDBErrorTests {
    private func kind(_ code: UInt32) -> MariaDBError.Kind {
        MariaDBError(code: MariaDBError.Code(code), serverMessage: "").kind
    }

    @Test(arguments: [UInt32(1205), 1213, 2057])
    func lockConflictsAreRetried(_ code: UInt32) {
        #expect(kind(code) == .conflict)
        #expect(MariaDBError(code: MariaDBError.Code(code), serverMessage: "").isRetryableConflict)
        #expect(!MariaDBError(code: MariaDBError.Code(code), serverMessage: "").breaksConnection)
    }

    @Test(arguments: [UInt32(2000), 2002, 2003, 2006, 2013, 2014, 2026, 2055, 1040, 1045, 1047, 1053, 1203, 1290, 1927, 4031])
    func lostConnectionsAndUnavailableServersReplaceTheConnection(_ code: UInt32) {
        let error = MariaDBError(code: MariaDBError.Code(code), serverMessage: "")
        #expect(error.kind == .unavailable)
        #expect(error.isConnectionLost)
        #expect(error.breaksConnection)
    }

    @Test func theStatementLimitHasItsOwnClass() {
        #expect(kind(1461) == .statementLimit)
        #expect(kind(1062) == .duplicateKey)
    }

    @Test(arguments: [UInt32(1317), 1969])
    func interruptedStatementsKeepTheConnection(_ code: UInt32) {
        let error = MariaDBError(code: MariaDBError.Code(code), serverMessage: "")
        #expect(error.kind == .interrupted)
        #expect(!error.breaksConnection)
        #expect(!error.isRetryableConflict)
    }

    @Test(arguments: [UInt32(0), 1064, 1146, 1264, 1452, 4025, 1615])
    func everythingElseIsOther(_ code: UInt32) {
        #expect(kind(code) == .other)
        #expect(!MariaDBError(code: MariaDBError.Code(code), serverMessage: "").breaksConnection)
    }

    @Test(arguments: [UInt32(2031), 2036, 2050])
    func clientUsageErrorsAreOtherButStillBreakTheConnection(_ code: UInt32) {
        let error = MariaDBError(code: MariaDBError.Code(code), serverMessage: "")
        #expect(error.kind == .other)
        #expect(error.breaksConnection)
    }

    @Test func descriptionNeverQuotesTheServerMessage() {
        let error = MariaDBError(code: .duplicateKey, sqlState: "23000", serverMessage: "Duplicate entry 'secret' for key 'x'")
        #expect(!error.description.contains("secret"))
    }
}

@Suite struct StatementCacheTests {
    final class Fake {
        let name: String
        init(_ name: String) { self.name = name }
    }

    @Test func holdsAtMostItsCapacityAndEvictsTheLeastRecentlyUsed() {
        var cache = StatementCache<Fake>(capacity: 3)
        for name in ["a", "b", "c"] { #expect(cache.insert(Fake(name), for: name) == nil) }
        _ = cache.statement(for: "a")  // b is now the oldest
        #expect(cache.insert(Fake("d"), for: "d")?.name == "b")
        #expect(cache.count == 3)
        #expect(cache.statement(for: "b") == nil)
        #expect(cache.statement(for: "a")?.name == "a")
        for index in 0..<100 { cache.insert(Fake("x\(index)"), for: "x\(index)") }
        #expect(cache.count == 3)
    }

    @Test func removeAllGivesEveryStatementBack() {
        var cache = StatementCache<Fake>(capacity: 8)
        for index in 0..<5 { cache.insert(Fake("\(index)"), for: "\(index)") }
        cache.removeAll()
        #expect(cache.count == 0)
    }
}
