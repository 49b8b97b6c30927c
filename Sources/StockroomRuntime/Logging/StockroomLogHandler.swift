import Glibc
import Logging

/// The log handler of all three programs: one line per event through the process's `LogOutput`.
public struct StockroomLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogOutput

    public init(label: String, level: Logger.Level, output: LogOutput) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let given = event.metadata { merged.merge(given) { $1 } }
        output.emit(level: event.level, label: label, message: event.message.description,
                    metadata: merged.mapValues(Self.text))
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let value): return value.description
        case .array, .dictionary: return value.description
        }
    }
}

/// Sets up the process's logging, once, before the first logger is made.
public enum StockroomLogging {
    /// Logfmt on stderr, or the journal's form when stderr is journald's stream; repeated
    /// warnings and errors summarized every `summaryInterval` seconds (0: none held back).
    /// Returns the output, for a reload (`summaryInterval`) and the exit (`drain`).
    @discardableResult
    public static func bootstrap(level: Logger.Level, summaryInterval: Double) -> LogOutput {
        let journal = JournalStream.isConnected(value: getenv(JournalStream.variable).map { String(cString: $0) })
        let output = LogOutput(format: LogLineFormat(journal: journal), summaryInterval: summaryInterval)
        LoggingSystem.bootstrap { label in
            StockroomLogHandler(label: label, level: level, output: output)
        }
        output.startSummaryThread()
        return output
    }
}
