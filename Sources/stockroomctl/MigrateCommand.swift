import ArgumentParser
import Foundation
import MariaDB

/// Applies sql/NNN_name.sql files not yet recorded in `schema_migrations`, in order. Safe to run
/// again and from several hosts at once: runners take turns through a lease row (see `MigrationLease`),
/// which a Galera cluster certifies like any write; GET_LOCK would be node-local there.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Apply pending schema migrations.")

    @Option(help: "Folder of NNN_*.sql files (default: $STOCKROOM_SQL_DIR, ./sql, /usr/share/stockroom/sql).")
    var sqlDir: String?

    @Option(help: "Seconds to wait for another runner to finish before giving up.")
    var waitSeconds: Int = 600

    @Option(help: "Seconds the migration lease lasts unless renewed (a runner that dies holds the others up this long).")
    var leaseSeconds: Int = MigrationLease.defaultLeaseSeconds

    func run() throws {
        let directory = try migrationsDirectory()
        let connection = try OperatorDatabase.connect()
        try connection.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
              version VARCHAR(255) NOT NULL PRIMARY KEY,
              applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
            """)
        let lease = try MigrationLease(connection: connection, leaseSeconds: leaseSeconds)
        try lease.acquire(waitingUpTo: waitSeconds) { holder in
            print("waiting for another migration run (\(holder)) to finish")
        }
        defer { lease.release() }
        let applied = Set(try connection.query("SELECT version FROM schema_migrations").rows.compactMap { $0.string(0) })
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".sql") && $0.first?.isNumber == true }
            .sorted()
        var count = 0
        for file in files where !applied.contains(file) {
            try lease.renew()
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            for statement in Self.statements(in: text) {
                do {
                    try connection.query(statement)
                } catch let error as MariaDBError {
                    printError("\(file): \(error) \(error.serverMessage)")
                    throw ExitCode(1)
                }
            }
            try connection.query("INSERT INTO schema_migrations (version) VALUES (?)", [.string(file)])
            print("applied \(file)")
            count += 1
        }
        print(count == 0 ? "schema is up to date (\(files.count) migrations)" : "applied \(count) migration(s)")
    }

    private func migrationsDirectory() throws -> String {
        let candidates = [sqlDir, try OperatorDatabase.settings.migrationsDirectory, "sql", "/usr/share/stockroom/sql"]
        for case let candidate? in candidates where !candidate.isEmpty {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), isDirectory.boolValue {
                return candidate
            }
        }
        printError("no migrations folder found (set STOCKROOM_SQL_DIR or --sql-dir)")
        throw ExitCode(1)
    }

    /// Splits a migration file into statements at lines ending with the delimiter (`;`, or what a
    /// `DELIMITER //` line sets, as in the mariadb client, for trigger bodies), dropping `--` comments.
    static func statements(in text: String) -> [String] {
        var statements: [String] = []
        var current: [Substring] = []
        var delimiter = ";"
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
            if current.isEmpty && trimmed.uppercased().hasPrefix("DELIMITER ") {
                delimiter = String(trimmed.dropFirst("DELIMITER ".count)).trimmingSuffixSpaces()
                continue
            }
            if trimmed.hasPrefix("--") || trimmed.isEmpty && current.isEmpty { continue }
            current.append(line)
            if line.trimmingSuffixSpaces().hasSuffix(delimiter) {
                var statement = current.joined(separator: "\n").trimmingSuffixSpaces()
                statement.removeLast(delimiter.count)
                statements.append(statement.trimmingSuffixSpaces())
                current = []
            }
        }
        let rest = current.joined(separator: "\n").trimmingSuffixSpaces()
        if !rest.isEmpty { statements.append(rest) }
        return statements
    }
}

extension StringProtocol {
    func trimmingSuffixSpaces() -> String {
        var text = String(self)
        while let last = text.last, last == " " || last == "\t" || last == "\r" || last == "\n" { text.removeLast() }
        return text
    }
}
