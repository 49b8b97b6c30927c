import MariaDB

extension AccountStore {
    /// The statements on users, sessions and the login throttle.
    enum Statements {
        struct InsertUser: MariaDBCommand {
            let username: String
            let passwordHash: String
            let role: User.Role
            let at: Timestamp
            static let sql = "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username), .string(passwordHash), .string(role.rawValue), .string(at.databaseText)] }
        }

        struct LockUser: MariaDBQuery {
            let username: String
            static let sql = "SELECT id FROM users WHERE username = ? FOR UPDATE"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username)] }
            func decode(_ row: MariaDBRow) throws -> Int64 { try row.requiredInt(0, of: Self.self) }
        }

        struct Promote: MariaDBCommand {
            let id: Int64
            let passwordHash: String
            static let sql = "UPDATE users SET role = 'admin', password_hash = ? WHERE id = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(passwordHash), .int(id)] }
        }

        struct Credentials: MariaDBQuery {
            let username: String
            static let sql = "SELECT id, password_hash FROM users WHERE username = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username)] }
            func decode(_ row: MariaDBRow) throws -> (id: Int64, passwordHash: String) {
                (try row.requiredInt(0, of: Self.self), try row.requiredString(1, of: Self.self))
            }
        }

        /// The user behind a live session.
        struct SessionUser: MariaDBQuery {
            let tokenHash: [UInt8]
            let at: Timestamp
            static let sql = """
                SELECT u.id, u.username, u.role, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id
                WHERE s.token_hash = ? AND s.expires_at > ?
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.bytes(tokenHash), .string(at.databaseText)] }
            func decode(_ row: MariaDBRow) throws -> User {
                User(id: try row.requiredInt(0, of: Self.self), username: try row.requiredString(1, of: Self.self),
                     role: try row.required(2, of: Self.self) { $0.string($1).flatMap(User.Role.init(rawValue:)) },
                     createdAt: try row.required(3, of: Self.self) { $0.string($1).flatMap(Timestamp.init(databaseText:)) })
            }
        }

        struct InsertSession: MariaDBCommand {
            let tokenHash: [UInt8]
            let userID: Int64
            let at: Timestamp
            let expires: Timestamp
            static let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.bytes(tokenHash), .int(userID), .string(at.databaseText), .string(expires.databaseText)] }
        }

        struct DeleteSession: MariaDBCommand {
            let tokenHash: [UInt8]
            static let sql = "DELETE FROM sessions WHERE token_hash = ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.bytes(tokenHash)] }
        }

        struct DeleteExpiredSessions: MariaDBCommand {
            let userID: Int64
            let at: Timestamp
            static let sql = "DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.int(userID), .string(at.databaseText)] }
        }

        /// Creates the account's throttle row, or locks it: the lock a login holds to its end.
        struct LockThrottle: MariaDBCommand {
            let username: String
            let at: Timestamp
            static let sql = """
                INSERT INTO login_throttles (username, last_attempt_at) VALUES (?, ?) \
                ON DUPLICATE KEY UPDATE last_attempt_at = VALUES(last_attempt_at)
                """
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username), .string(at.databaseText)] }
        }

        /// The account's failures up to `upTo` (all of them when nil).
        struct ForgetFailures: MariaDBCommand {
            let username: String
            let upTo: Timestamp?
            var sql: String { upTo == nil ? "DELETE FROM login_failures WHERE username = ?"
                                          : "DELETE FROM login_failures WHERE username = ? AND failed_at <= ?" }
            var bindings: [MariaDBValue] { [.string(username)] + (upTo.map { [.string($0.databaseText)] } ?? []) }
        }

        /// The newest failures after `after`, newest first, at most as many as the throttle counts.
        struct RecentFailures: MariaDBQuery {
            let username: String
            let after: Timestamp
            static let sql = "SELECT failed_at FROM login_failures WHERE username = ? AND failed_at > ? ORDER BY failed_at DESC LIMIT ?"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username), .string(after.databaseText), .int(Int64(AccountPolicy.maximumFailures))] }
            func decode(_ row: MariaDBRow) throws -> Timestamp {
                try row.required(0, of: Self.self) { $0.string($1).flatMap(Timestamp.init(databaseText:)) }
            }
        }

        struct RecordFailure: MariaDBCommand {
            let username: String
            let at: Timestamp
            static let sql = "INSERT INTO login_failures (username, failed_at) VALUES (?, ?)"
            var sql: String { Self.sql }
            var bindings: [MariaDBValue] { [.string(username), .string(at.databaseText)] }
        }
    }
}
