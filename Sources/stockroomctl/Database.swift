import ArgumentParser
import Foundation
import Logging
import MariaDB
import StockroomRuntime

/// The operator commands' settings and database, from the environment.
enum OperatorDatabase {
    /// Read once. A bad value (or an unreadable password file) is `SettingsError`, naming the variable.
    static let loaded: Result<OperatorSettings, any Error> = Result {
        try OperatorSettings(environment: ProcessInfo.processInfo.environment)
    }

    /// The settings, or the command stops with a message and `failure` (exit 1 unless told otherwise).
    static func settings(orExit failure: ExitCode = .failure) throws -> OperatorSettings {
        do {
            return try loaded.get()
        } catch {
            printError("bad settings: \(error)")
            throw failure
        }
    }

    /// For the commands whose every failure is exit 1.
    static var settings: OperatorSettings {
        get throws { try settings(orExit: .failure) }
    }

    /// A connection to the first usable node (the writer node, on a cluster); when there is none,
    /// the command stops with a message and `failure`.
    static func connect(orExit failure: ExitCode = .failure) throws -> MariaDBConnection {
        let configuration = try settings(orExit: failure).database
        MariaDBConnection.initializeLibrary()
        do {
            return try MariaDBSession(configuration: configuration, logger: Logger(label: "stockroomctl")).connection()
        } catch let error as MariaDBError {
            printError("cannot connect to MariaDB: \(error) \(error.serverMessage)")
            throw failure
        }
    }
}

extension OperatorDatabase {
    /// A session for the Core stores (they run their own transactions), after a first connection
    /// that reports a database it cannot reach as `connect()` does.
    static func session() throws -> MariaDBSession {
        _ = try connect()
        return MariaDBSession(configuration: try settings.database, logger: Logger(label: "stockroomctl"))
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("stockroomctl: \(message)\n".utf8))
}
