import MariaDB

/// Users and sessions: register, login, logout, me.
enum AuthResource {
    /// Failed logins per account within the window before 429.
    static let maxFailures = 10
    static let failureWindowSeconds: Int64 = 15 * 60

    static func register(in router: inout Router) {
        router.add("POST", "/api/v1/auth/register", registerUser)
        router.add("POST", "/api/v1/auth/login", login)
        router.add("POST", "/api/v1/auth/logout", logout)
        router.add("GET", "/api/v1/users/me") { context, _ in
            let user = try context.authenticatedUser()
            try context.checkNoBodyRequest()
            return .json(200, user.json)
        }
    }

    static func registerUser(_ context: RequestContext, _: [Int64]) throws -> Response {
        let body = try context.jsonBody(allowed: ["username", "password"])
        let username = try body.string("username")
        let password = try body.string("password")
        guard User.isValidUsername(username) else {
            throw HTTPError.validation("username", "username must be 3 to 32 characters of A-Z, a-z, 0-9, '_', '.', '-'.")
        }
        guard User.isValidPassword(password) else {
            throw HTTPError.validation("password", "password must be 8 to 128 characters.")
        }
        let hash = try context.application.configuration.passwordHasher.hash(password)
        let now = Timestamp.now()
        do {
            // The unique key on username (case-insensitive collation) decides who gets the name.
            let id = try context.database.transaction { connection in
                try connection.query(
                    "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, 'customer', ?)",
                    [.string(username), .string(hash), .string(now.databaseText)]).lastInsertID
            }
            let user = User(id: Int64(id), username: username, role: .customer, createdAt: now)
            return .json(201, user.json, headers: [("Location", "/api/v1/users/me")])
        } catch let error as MariaDBError where error.code == .duplicateKey {
            throw HTTPError(400, "username_taken", "That username is already taken.", extra: [("field", .string("username"))])
        }
    }

    static let invalidCredentials = HTTPError(401, "invalid_credentials", "Wrong username or password.")

    static func login(_ context: RequestContext, _: [Int64]) throws -> Response {
        let body = try context.jsonBody(allowed: ["username", "password"])
        let username = try body.string("username")
        let password = try body.string("password")
        let hasher = context.application.configuration.passwordHasher
        let now = Timestamp.now()
        // A name that cannot exist is still verified against the dummy hash: same answer, same time.
        guard User.isValidUsername(username), password.count <= 1024 else {
            _ = hasher.verify(password, against: context.application.dummyPasswordHash)
            throw invalidCredentials
        }
        let database = context.database
        if let retryAfter = try secondsUntilUnthrottled(username: username, now: now, database: database) {
            throw HTTPError(429, "too_many_attempts", "Too many failed logins for this account; try again later.",
                            headers: [("Retry-After", String(retryAfter))])
        }
        let account = try database.read { connection in
            try connection.query("SELECT id, password_hash FROM users WHERE username = ?", [.string(username)]).first
        }
        let storedHash = account?.string(1) ?? context.application.dummyPasswordHash
        let verified = hasher.verify(password, against: storedHash)
        guard verified, let userID = account?.int(0) else {
            try database.transaction { connection in
                try connection.query("INSERT INTO login_failures (username, failed_at) VALUES (?, ?)",
                                     [.string(username), .string(now.databaseText)])
                try connection.query("DELETE FROM login_failures WHERE username = ? AND failed_at <= ?",
                                     [.string(username), .string(now.adding(seconds: -failureWindowSeconds).databaseText)])
            }
            context.logger.info("login failed", metadata: ["user.name": "\(username)"])
            throw invalidCredentials
        }
        let session = SessionToken.generate()
        let expires = now.adding(seconds: context.application.configuration.sessionLifetimeSeconds)
        try database.transaction { connection in
            try connection.query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                                 [.bytes(session.hash), .int(userID), .string(now.databaseText), .string(expires.databaseText)])
            try connection.query("DELETE FROM login_failures WHERE username = ?", [.string(username)])
            try connection.query("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?",
                                 [.int(userID), .string(now.databaseText)])
        }
        return .json(200, .object([
            ("token", .string(session.token)), ("token_type", .string("Bearer")),
            ("expires_at", .string(expires.rfc3339)),
        ]))
    }

    /// nil while fewer than `maxFailures` failures fall in the window; else seconds until the
    /// oldest of the last `maxFailures` leaves it.
    static func secondsUntilUnthrottled(username: String, now: Timestamp, database: MariaDBSession) throws -> Int64? {
        let windowStart = now.adding(seconds: -failureWindowSeconds)
        let rows = try database.read { connection in
            try connection.query("""
                SELECT failed_at FROM login_failures WHERE username = ? AND failed_at > ?
                ORDER BY failed_at DESC LIMIT 10
                """, [.string(username), .string(windowStart.databaseText)]).rows
        }
        guard rows.count >= maxFailures, let oldest = rows.last?.string(0).flatMap(Timestamp.init(databaseText:)) else {
            return nil
        }
        return max(1, oldest.secondsSinceEpoch + failureWindowSeconds - now.secondsSinceEpoch)
    }

    static func logout(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        guard let token = context.bearerToken else { throw HTTPError.unauthorized }
        try context.database.transaction { connection in
            try connection.query("DELETE FROM sessions WHERE token_hash = ?", [.bytes(SessionToken.hash(token))])
        }
        return .noContent()
    }
}
