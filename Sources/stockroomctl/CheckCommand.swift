import ArgumentParser
import StockroomCore

/// Verifies stock against the stock ledger and the orders; exits 1 on any mismatch.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Check stock = ledger and order lines = ledger for every product.")

    func run() throws {
        let connection = try OperatorDatabase.connect()
        let report = try ConsistencyCheck.run(connection)
        for mismatch in report.mismatches { print("mismatch: \(mismatch)") }
        if report.mismatches.isEmpty {
            print("check: \(report.productCount) products consistent")
        } else {
            print("check: \(report.mismatches.count) mismatch(es) in \(report.productCount) products")
            throw ExitCode(1)
        }
    }
}
