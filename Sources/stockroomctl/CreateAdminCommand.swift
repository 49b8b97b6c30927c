import ArgumentParser
import Foundation
import MariaDB
import PasswordHashing
import Stockroom

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
        let connection = try OperatorDatabase.connect()
        try connection.beginTransaction()
        do {
            let existing = try connection.query("SELECT id FROM users WHERE username = ? FOR UPDATE", [.string(name)]).first
            if let id = existing?.int(0) {
                try connection.query("UPDATE users SET role = 'admin', password_hash = ? WHERE id = ?", [.string(hash), .int(id)])
                try connection.commit()
                print("promoted \(name) (id \(id)) to admin")
            } else {
                let now = Timestamp.now()
                let id = try connection.query(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, 'admin', ?)",
                    [.string(name), .string(hash), .string(now.databaseText)]).lastInsertID
                try connection.commit()
                print("created admin \(name) (id \(id))")
            }
        } catch {
            connection.rollback()
            printError("\(error)")
            throw ExitCode(1)
        }
    }
}
