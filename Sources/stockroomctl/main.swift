import ArgumentParser
import StockroomRuntime

/// Operator commands: schema migrations and admin accounts.
struct StockroomCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroomctl",
        abstract: "Stockroom operator commands. Settings come from STOCKROOM_* variables (docs/configuration.md).",
        subcommands: [MigrateCommand.self, CreateAdminCommand.self, CheckCommand.self, SettingsCommand.self])
}

// The daemons' log format; a short-lived command holds nothing back (it could exit before the count).
StockroomLogging.bootstrap(level: .info, summaryInterval: 0)
StockroomCtl.main()
