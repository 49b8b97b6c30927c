import ArgumentParser
import Foundation
import StockroomRuntime

/// Checks the settings every program would read now (this environment with STOCKROOM_ENV_FILE on
/// top), so a bad value is found before a reload or a restart; or prints the catalogue.
struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Check the settings the programs would read now (exit 1 naming each bad variable).",
        discussion: "With --markdown, print the table of every setting that docs/configuration.md carries.")

    @Flag(help: "Print the settings table (Markdown) instead of checking.")
    var markdown = false

    func run() throws {
        if markdown {
            print(Setting.markdownTable(), terminator: "")
            return
        }
        let environment: [String: String]
        do {
            environment = try EnvironmentFile.environment(over: ProcessInfo.processInfo.environment)
        } catch {
            printError("cannot read the settings: \(error)")
            throw ExitCode(1)
        }
        var failed = false
        let checks: [(Setting.Program, () throws -> Void)] = [
            (.responder, { _ = try ResponderSettings(environment: environment) }),
            (.worker, { _ = try WorkerSettings(environment: environment) }),
            (.operatorTool, { _ = try OperatorSettings(environment: environment) }),
        ]
        for (program, check) in checks {
            do {
                try check()
                print("\(program.rawValue): settings ok")
            } catch {
                printError("\(program.rawValue) would not start: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
