import ArgumentParser

/// Operator commands: schema migrations and admin accounts.
struct StockroomCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stockroomctl",
        abstract: "Stockroom operator commands. The database comes from STOCKROOM_DB_* variables.",
        subcommands: [MigrateCommand.self, CreateAdminCommand.self, CheckCommand.self])
}

StockroomCtl.main()
