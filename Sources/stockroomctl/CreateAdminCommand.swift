import ArgumentParser
import Foundation
import PasswordHashing
import StockroomCore

/// Creates an admin account, or promotes an existing user to admin and sets the given password.
/// The password is read from standard input (one line), so it never shows in `ps` or shell history.
struct CreateAdminCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create-admin", abstract: "Create an admin (or promote a user); password from stdin.")

    @Argument(help: "Username (3-32 characters of A-Z a-z 0-9 _ . -).")
    var name: String

    func run() throws {
        guard AccountRules.isValidUsername(name) else {
            printError("username must be 3 to 32 characters of A-Z, a-z, 0-9, '_', '.', '-'")
            throw ExitCode(2)
        }
        guard var password = readLine(strippingNewline: true) else {
            printError("no password on standard input")
            throw ExitCode(2)
        }
        if password.hasSuffix("\r") { password.removeLast() }
        guard AccountRules.isValidPassword(password) else {
            printError("password must be 8 to 128 characters")
            throw ExitCode(2)
        }
        let hash = try PasswordHasher().hash(password)
        do {
            let saved = try AccountStore(try OperatorDatabase.session(), policy: try AccountPolicy())
                .saveAdmin(username: name, passwordHash: hash)
            print(saved.created ? "created admin \(name) (id \(saved.id))" : "promoted \(name) (id \(saved.id)) to admin")
        } catch let error as ExitCode {
            throw error
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}
