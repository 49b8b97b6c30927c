import Foundation
import Logging
import MariaDB
import StockroomRuntime

/// The operator commands' settings and database, from the environment.
enum OperatorDatabase {
    /// Read once; a bad value stops the command with a message naming the variable.
    static let settings: OperatorSettings = {
        do {
            return try OperatorSettings(environment: ProcessInfo.processInfo.environment)
        } catch {
            printError("bad settings: \(error)")
            exit(1)
        }
    }()

    /// A connection to the first usable node (the writer node, on a cluster).
    static func connect() throws -> MariaDBConnection {
        MariaDBConnection.initializeLibrary()
        do {
            return try MariaDBSession(configuration: settings.database, logger: Logger(label: "stockroomctl")).connection()
        } catch let error as MariaDBError {
            FileHandle.standardError.write(Data("stockroomctl: cannot connect to MariaDB: \(error) \(error.serverMessage)\n".utf8))
            throw ExitCodeError.failure
        }
    }
}

extension OperatorDatabase {
    /// A session for the Core stores (they run their own transactions), after a first connection
    /// that reports a database it cannot reach as `connect()` does.
    static func session() throws -> MariaDBSession {
        _ = try connect()
        return MariaDBSession(configuration: settings.database, logger: Logger(label: "stockroomctl"))
    }
}

enum ExitCodeError: Error { case failure }

func printError(_ message: String) {
    FileHandle.standardError.write(Data("stockroomctl: \(message)\n".utf8))
}
