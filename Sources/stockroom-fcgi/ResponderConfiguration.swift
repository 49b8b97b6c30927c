import ArgumentParser
import FastCGI
import Logging
import Stockroom

/// Command line and environment of `stockroom-fcgi`; flags win over the environment.
struct ResponderConfiguration {
    var socketPath: String
    var socketGroup: String?
    var threadCount: Int
    var shutdownTimeoutSeconds: Double
    /// STOCKROOM_IDLE_TIMEOUT: seconds a FastCGI connection may stay silent while the responder reads
    /// (default 3; must stay above nginx's upstream keepalive_timeout of 2 s).
    var connectionIdleTimeoutSeconds: Int
    var logLevel: Logger.Level

    static let defaultThreadCount = 32

    init(environment: [String: String], socketFlag: String?, threadsFlag: Int?) throws {
        socketPath = socketFlag ?? environment["STOCKROOM_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? "/run/stockroom/fcgi.sock"
        socketGroup = environment["STOCKROOM_SOCKET_GROUP"].flatMap { $0.isEmpty ? nil : $0 }
        if let threadsFlag {
            threadCount = threadsFlag
        } else if let text = environment["STOCKROOM_THREADS"], !text.isEmpty {
            guard let value = Int(text) else { throw ValidationError("STOCKROOM_THREADS must be a number, got \(text)") }
            threadCount = value
        } else {
            threadCount = Self.defaultThreadCount
        }
        guard (1...1024).contains(threadCount) else { throw ValidationError("threads must be 1 to 1024") }
        shutdownTimeoutSeconds = environment["STOCKROOM_SHUTDOWN_TIMEOUT"].flatMap(Double.init) ?? 10
        connectionIdleTimeoutSeconds = environment["STOCKROOM_IDLE_TIMEOUT"].flatMap(Int.init).map { max(1, $0) } ?? 3
        let levelText = environment["LOG_LEVEL"]?.lowercased() ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
    }

    var pool: ResponderPool.Configuration {
        .init(threadCount: threadCount, parameterNames: StockroomApplication.requestParameterNames,
              idleTimeout: Double(connectionIdleTimeoutSeconds))
    }

    /// The settings a running process cannot take over (the socket is bound once, and a reload
    /// never rebinds it), as (variable, running value, new value).
    func restartOnlyChanges(to next: ResponderConfiguration) -> [(name: String, running: String, next: String)] {
        var changes: [(String, String, String)] = []
        if next.socketPath != socketPath { changes.append(("STOCKROOM_SOCKET", socketPath, next.socketPath)) }
        if next.socketGroup != socketGroup {
            changes.append(("STOCKROOM_SOCKET_GROUP", socketGroup ?? "(none)", next.socketGroup ?? "(none)"))
        }
        return changes
    }
}
