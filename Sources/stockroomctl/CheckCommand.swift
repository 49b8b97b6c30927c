import ArgumentParser
import MariaDB
import StockroomCore

/// Verifies stock against the stock ledger and the orders. Exit status as `diff` and `cmp` have
/// it: 0 consistent, 1 mismatches, 2 trouble (the check could not be made); 64 is
/// argument-parser's usage error.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check stock = ledger and order lines = ledger for every product.",
        discussion: """
            Also checks promo code redemptions against their orders and that every order's pricing adds up. \
            Reads one snapshot, so orders placed meanwhile cannot cause a false mismatch.

            Exit status: 0 everything is consistent; 1 mismatches were found (each printed on its own line); \
            2 the check could not be made (bad settings, the database cannot be reached, a query failed); \
            64 a usage error (an unknown option).
            """)

    static let mismatchesFound = ExitCode(1)
    static let couldNotCheck = ExitCode(2)

    func run() throws {
        let connection = try OperatorDatabase.connect(orExit: Self.couldNotCheck)
        let report: ConsistencyCheck.Report
        do {
            report = try ConsistencyCheck.run(connection)
        } catch let error as MariaDBError {
            printError("check failed: \(error) \(error.serverMessage)")
            throw Self.couldNotCheck
        } catch {
            printError("check failed: \(error)")
            throw Self.couldNotCheck
        }
        for mismatch in report.mismatches { print("mismatch: \(mismatch)") }
        if report.mismatches.isEmpty {
            print("check: \(report.productCount) products consistent")
        } else {
            print("check: \(report.mismatches.count) mismatch(es) in \(report.productCount) products")
            throw Self.mismatchesFound
        }
    }
}
