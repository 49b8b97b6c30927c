import FastCGI
import Foundation
import StockroomRuntime

/// `stockroom-fcgi --check-config`: the settings as a start reads them, the password's source, the
/// socket (without binding it) and every database node; then exit 0, 1 or 2 (`ConfigurationCheck`).
enum ResponderConfigurationCheck {
    static func run(socketFlag: String?, threadsFlag: Int?) -> Int32 {
        var check = ConfigurationCheck(program: "stockroom-fcgi")
        let read = check.settings(inherited: ProcessInfo.processInfo.environment) {
            try ResponderSettings(environment: $0, socketFlag: socketFlag, threadsFlag: threadsFlag)
        }
        guard let (settings, environment) = read else { return check.finish() }
        check.passwordSource(in: environment)
        let socket = FastCGIListener.preflight(path: settings.socketPath, group: settings.socketGroup)
        let subject = "socket \(settings.socketPath)"
        if socket.problems.isEmpty { check.passed(subject, socket.summary) }
        for problem in socket.problems { check.failed(subject, problem, .wouldNotStart) }
        for note in socket.notes { check.note(subject, note) }
        check.database(settings.database)
        return check.finish()
    }
}
