import Foundation
import Logging
import MariaDB

/// Opens the database from the environment for a one-shot command.
enum OperatorDatabase {
    static func connect() throws -> MariaDBConnection {
        MariaDBConnection.initializeLibrary()
        let configuration = MariaDBConfiguration.fromEnvironment(ProcessInfo.processInfo.environment)
        do {
            return try MariaDBConnection(configuration: configuration)
        } catch let error as MariaDBError {
            FileHandle.standardError.write(Data("stockroomctl: cannot connect to MariaDB: \(error) \(error.serverMessage)\n".utf8))
            throw ExitCodeError.failure
        }
    }
}

enum ExitCodeError: Error { case failure }

func printError(_ message: String) {
    FileHandle.standardError.write(Data("stockroomctl: \(message)\n".utf8))
}
