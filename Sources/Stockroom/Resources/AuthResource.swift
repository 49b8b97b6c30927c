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

    /// What one login attempt came to, decided inside its transaction and answered after COMMIT
    /// (a failure must be written, not rolled back with a thrown 401).
    private enum LoginOutcome {
        case throttled(retryAfter: Int64)
        case failed
        case signedIn(token: String, expires: Timestamp)
    }

    static func login(_ context: RequestContext, _: [Int64]) throws -> Response {
        let body = try context.jsonBody(allowed: ["username", "password"])
        let username = try body.string("username")
        let password = try body.string("password")
        let application = context.application
        let hasher = application.configuration.passwordHasher
        // A name that cannot exist is still verified against the dummy hash: same answer, same time.
        guard User.isValidUsername(username), password.count <= 1024 else {
            _ = hasher.verify(password, against: application.dummyPasswordHash)
            throw invalidCredentials
        }
        // One transaction under the account's throttle row lock, password check included: logins
        // for one name are checked one after another, so however many guesses arrive at once, the
        // count of failures each reads is exact and at most `maxFailures` passwords are checked.
        let outcome = try context.database.transaction { connection -> LoginOutcome in
            let now = Timestamp.now()
            let windowStart = now.adding(seconds: -failureWindowSeconds)
            // Creates or locks the throttle row; a concurrent login for this name waits here.
            try connection.query(
                "INSERT INTO login_throttles (username, last_attempt_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_attempt_at = VALUES(last_attempt_at)",
                [.string(username), .string(now.databaseText)])
            try connection.query("DELETE FROM login_failures WHERE username = ? AND failed_at <= ?",
                                 [.string(username), .string(windowStart.databaseText)])
            // The first plain read of the transaction: its snapshot is taken now, after the lock.
            let recent = try connection.query("""
                SELECT failed_at FROM login_failures WHERE username = ? AND failed_at > ?
                ORDER BY failed_at DESC LIMIT ?
                """, [.string(username), .string(windowStart.databaseText), .int(Int64(maxFailures))]).rows
            if recent.count >= maxFailures, let oldest = recent.last?.string(0).flatMap(Timestamp.init(databaseText:)) {
                return .throttled(retryAfter: max(1, oldest.secondsSinceEpoch + failureWindowSeconds - now.secondsSinceEpoch))
            }
            let account = try connection.query("SELECT id, password_hash FROM users WHERE username = ?", [.string(username)]).first
            let verified = hasher.verify(password, against: account?.string(1) ?? application.dummyPasswordHash)
            guard verified, let userID = account?.int(0) else {
                try connection.query("INSERT INTO login_failures (username, failed_at) VALUES (?, ?)",
                                     [.string(username), .string(now.databaseText)])
                return .failed
            }
            let session = SessionToken.generate()
            let expires = now.adding(seconds: application.configuration.sessionLifetimeSeconds)
            try connection.query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                                 [.bytes(session.hash), .int(userID), .string(now.databaseText), .string(expires.databaseText)])
            try connection.query("DELETE FROM login_failures WHERE username = ?", [.string(username)])
            try connection.query("DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?",
                                 [.int(userID), .string(now.databaseText)])
            return .signedIn(token: session.token, expires: expires)
        }
        switch outcome {
        case .throttled(let retryAfter):
            throw HTTPError(429, "too_many_attempts", "Too many failed logins for this account; try again later.",
                            headers: [("Retry-After", String(retryAfter))])
        case .failed:
            context.logger.info("login failed", metadata: ["user.name": "\(username)"])
            throw invalidCredentials
        case .signedIn(let token, let expires):
            return .json(200, .object([
                ("token", .string(token)), ("token_type", .string("Bearer")),
                ("expires_at", .string(expires.rfc3339)),
            ]))
        }
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
