import Foundation
import StockroomRuntime

/// `stockroom-worker --check-config`: the settings as a start reads them, the password's source and
/// every database node; then exit 0, 1 or 2 (`ConfigurationCheck`).
enum WorkerConfigurationCheck {
    static func run() -> Int32 {
        var check = ConfigurationCheck(program: "stockroom-worker")
        if let (settings, environment) = check.settings(inherited: ProcessInfo.processInfo.environment, WorkerSettings.init) {
            check.passwordSource(in: environment)
            check.database(settings.database)
        }
        return check.finish()
    }
}
