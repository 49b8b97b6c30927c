import ArgumentParser
import StockroomRuntime

/// Operator commands: schema migrations and admin accounts.
struct StockroomCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroomctl",
        abstract: "Stockroom operator commands. Settings come from STOCKROOM_* variables (docs/configuration.md).",
        version: "stockroomctl \(StockroomVersion.current)",
        subcommands: [MigrateCommand.self, CreateAdminCommand.self, CheckCommand.self, SettingsCommand.self])
}

StockroomCtl.main()
