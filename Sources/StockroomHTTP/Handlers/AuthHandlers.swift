import StockroomCore

/// Users and sessions: register, login, logout, me.
enum AuthHandlers {
    static func register(in router: inout Router) {
        router.add("POST", "/api/v1/auth/register", registerUser)
        router.add("POST", "/api/v1/auth/login", logIn)
        router.add("POST", "/api/v1/auth/logout", logOut)
        router.add("GET", "/api/v1/users/me") { context, _ in
            let user = try context.authenticatedUser()
            try context.checkNoBodyRequest()
            return .json(200, user.json)
        }
    }

    static let invalidCredentials = HTTPError(401, "invalid_credentials", "Wrong username or password.")

    @Sendable static func registerUser(_ context: RequestContext, _: [Int64]) throws -> Response {
        let body = try context.jsonBody(allowed: ["username", "password"])
        let username = try body.string("username")
        let password = try body.string("password")
        guard AccountRules.isValidUsername(username) else {
            throw HTTPError.validation("username", "username must be 3 to 32 characters of A-Z, a-z, 0-9, '_', '.', '-'.")
        }
        guard AccountRules.isValidPassword(password) else {
            throw HTTPError.validation("password", "password must be 8 to 128 characters.")
        }
        let user = try context.accounts.register(username: username, password: password)
        return .json(201, user.json, headers: [("Location", "/api/v1/users/me")])
    }

    @Sendable static func logIn(_ context: RequestContext, _: [Int64]) throws -> Response {
        let body = try context.jsonBody(allowed: ["username", "password"])
        let username = try body.string("username")
        let password = try body.string("password")
        switch try context.accounts.logIn(username: username, password: password) {
        case .throttled(let retryAfter):
            throw HTTPError(429, "too_many_attempts", "Too many failed logins for this account; try again later.",
                            headers: [("Retry-After", String(retryAfter))])
        case .failed:
            // Only names that can exist are logged: the others are the client's arbitrary text.
            if AccountRules.isValidUsername(username) {
                context.logger.info("login failed", metadata: ["user.name": "\(username)"])
            }
            throw invalidCredentials
        case .signedIn(let token, let expires):
            return .json(200, .object([
                ("token", .string(token)), ("token_type", .string("Bearer")),
                ("expires_at", .string(expires.rfc3339)),
            ]))
        }
    }

    @Sendable static func logOut(_ context: RequestContext, _: [Int64]) throws -> Response {
        _ = try context.authenticatedUser()
        try context.checkNoBodyRequest()
        guard let token = context.bearerToken else { throw HTTPError.unauthorized }
        try context.accounts.logOut(token: token)
        return .noContent()
    }
}
