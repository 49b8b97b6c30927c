import Foundation

/// A daemon's `--check-config`, in the spirit of `nginx -t`: reads the settings exactly as a start
/// would, reaches what the start would need, and prints one line per check, then a verdict.
/// Starts nothing and changes nothing.
///
/// Exit status (`exitCode`): 0 all is well; 1 the program would not start (a setting, the
/// environment file, the password file, the socket); 2 it would start, but a database node did not
/// answer or refused the account (it would answer 503 until the database is reachable).
public struct ConfigurationCheck {
    public enum Outcome: Int32, Sendable {
        case passed = 0
        case wouldNotStart = 1
        case databaseUnreachable = 2

        /// The worst finding decides the exit status.
        var severity: Int {
            switch self {
            case .passed: 0
            case .databaseUnreachable: 1
            case .wouldNotStart: 2
            }
        }
    }

    public let program: String
    public private(set) var outcome = Outcome.passed
    private let output: (String) -> Void

    public init(program: String, output: @escaping (String) -> Void = { print($0) }) {
        self.program = program
        self.output = output
    }

    /// `program: subject: ok (detail)`.
    public mutating func passed(_ subject: String, _ detail: String) {
        output("\(program): \(subject): ok\(detail.isEmpty ? "" : " (\(detail))")")
    }

    /// `program: subject: FAILED: problem`; the worst failure decides the exit status.
    public mutating func failed(_ subject: String, _ problem: String, _ outcome: Outcome) {
        output("\(program): \(subject): FAILED: \(problem)")
        if outcome.severity > self.outcome.severity { self.outcome = outcome }
    }

    /// Something to know that is not a failure.
    public mutating func note(_ subject: String, _ text: String) {
        output("\(program): \(subject): note: \(text)")
    }

    /// Prints the verdict and returns the exit status.
    public func finish() -> Int32 {
        switch outcome {
        case .passed: output("\(program): the configuration is ok")
        case .wouldNotStart: output("\(program): configuration check failed: the program would not start (exit 1)")
        case .databaseUnreachable:
            output("\(program): configuration check failed: the program would start, but the database is not reachable as configured (exit 2)")
        }
        return outcome.rawValue
    }
}

extension ConfigurationCheck {
    /// The settings as a start reads them: `inherited` with STOCKROOM_ENV_FILE's values on top, then
    /// `build`. Nil when the start would stop on them; every problem is printed on its own line.
    public mutating func settings<Settings>(
        inherited: [String: String], _ build: ([String: String]) throws -> Settings
    ) -> (settings: Settings, environment: [String: String])? {
        let environment: [String: String]
        do {
            environment = try EnvironmentFile.environment(over: inherited)
        } catch {
            failed("settings", "cannot read \(EnvironmentFile.variable): \(error)", .wouldNotStart)
            return nil
        }
        let origin = environment[EnvironmentFile.variable].flatMap { $0.isEmpty ? nil : $0 }
            .map { "the environment and \(EnvironmentFile.variable)=\($0)" } ?? "the environment"
        do {
            let settings = try build(environment)
            passed("settings", "read from \(origin)")
            return (settings, environment)
        } catch let error as SettingsError {
            for problem in error.problems { failed("settings", problem, .wouldNotStart) }
        } catch {
            failed("settings", "\(error)", .wouldNotStart)
        }
        return nil
    }

    /// Where the database password came from, and a variable that is set but unused.
    public mutating func passwordSource(in environment: [String: String]) {
        let source = DatabasePassword.source(in: environment)
        switch source {
        case .file, .credential:
            passed("database password", "from \(source)")
            if let unused = environment[Setting.databasePassword.name], !unused.isEmpty {
                note("database password", "\(Setting.databasePassword.name) is set too, and not used")
            }
        case .environment:
            passed("database password", "from \(source)")
        case .none:
            note("database password", "none set (no \(Setting.databasePasswordFile.name), no credential \(DatabasePassword.credentialName), no \(Setting.databasePassword.name))")
        }
    }
}
