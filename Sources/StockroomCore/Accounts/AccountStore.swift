import MariaDB

/// Users and sessions in the database: registration, login under the per-account throttle,
/// logout, and who a bearer token belongs to.
public struct AccountStore {
    private let database: MariaDBSession
    private let policy: AccountPolicy

    public init(_ database: MariaDBSession, policy: AccountPolicy) {
        self.database = database
        self.policy = policy
    }

    /// What one login attempt came to.
    public enum LoginOutcome: Sendable, Equatable {
        case signedIn(token: String, expires: Timestamp)
        case failed
        case throttled(retryAfterSeconds: Int64)
    }

    /// A new customer; `StoreError.usernameTaken` when the name is in use, in any letter case.
    public func register(username: String, password: String) throws -> User {
        let hash = try policy.hasher.hash(password)
        let now = Timestamp.now()
        do {
            // The unique key on username (case-insensitive collation) decides who gets the name.
            let id = try database.transaction {
                try $0.execute(Statements.InsertUser(username: username, passwordHash: hash, role: .customer, at: now)).lastInsertID
            }
            return User(id: Int64(id), username: username, role: .customer, createdAt: now)
        } catch let error as MariaDBError where error.code == .duplicateKey {
            throw StoreError.usernameTaken
        }
    }

    /// Checks a password under the account's throttle. One transaction holds the lock on the
    /// account's throttle row, password check included: logins for one name are checked one after
    /// another, so however many guesses arrive at once, each reads the exact count of failures and
    /// at most `maximumFailures` passwords are checked. A failure is committed, not rolled back.
    public func logIn(username: String, password: String) throws -> LoginOutcome {
        // A name that cannot exist is still verified against the dummy hash: same answer, same time.
        guard AccountRules.isValidUsername(username), password.count <= AccountRules.longestCheckedPassword else {
            _ = policy.hasher.verify(password, against: policy.dummyPasswordHash)
            return .failed
        }
        return try database.transaction { connection in
            let now = Timestamp.now()
            let windowStart = now.adding(seconds: -AccountPolicy.failureWindowSeconds)
            // Creates or locks the throttle row; a concurrent login for this name waits here.
            try connection.execute(Statements.LockThrottle(username: username, at: now))
            try connection.execute(Statements.ForgetFailures(username: username, upTo: windowStart))
            // The first plain read of the transaction: its snapshot is taken now, after the lock.
            let recent = try connection.rows(Statements.RecentFailures(username: username, after: windowStart))
            if recent.count >= AccountPolicy.maximumFailures, let oldest = recent.last {
                let retryAfter = oldest.secondsSinceEpoch + AccountPolicy.failureWindowSeconds - now.secondsSinceEpoch
                return .throttled(retryAfterSeconds: max(1, retryAfter))
            }
            let account = try connection.first(Statements.Credentials(username: username))
            let verified = policy.hasher.verify(password, against: account?.passwordHash ?? policy.dummyPasswordHash)
            guard verified, let userID = account?.id else {
                try connection.execute(Statements.RecordFailure(username: username, at: now))
                return .failed
            }
            let session = SessionToken.generate()
            let expires = now.adding(seconds: policy.sessionLifetimeSeconds)
            try connection.execute(Statements.InsertSession(tokenHash: session.hash, userID: userID, at: now, expires: expires))
            try connection.execute(Statements.ForgetFailures(username: username, upTo: nil))
            try connection.execute(Statements.DeleteExpiredSessions(userID: userID, at: now))
            return .signedIn(token: session.token, expires: expires)
        }
    }

    public func logOut(token: String) throws {
        try database.transaction { try $0.execute(Statements.DeleteSession(tokenHash: SessionToken.hash(token))) }
    }

    /// The user of a live session; `StoreError.sessionInvalid` for an unknown, expired or revoked token.
    public func user(forToken token: String) throws -> User {
        let lookup = Statements.SessionUser(tokenHash: SessionToken.hash(token), at: Timestamp.now())
        guard let user = try database.read({ try $0.first(lookup) }) else { throw StoreError.sessionInvalid }
        return user
    }

    /// `stockroomctl create-admin`: a new admin, or an existing user promoted with a new password.
    public func saveAdmin(username: String, passwordHash: String) throws -> (id: Int64, created: Bool) {
        try database.transaction { connection in
            if let id = try connection.first(Statements.LockUser(username: username)) {
                try connection.execute(Statements.Promote(id: id, passwordHash: passwordHash))
                return (id, false)
            }
            let insert = Statements.InsertUser(username: username, passwordHash: passwordHash, role: .admin, at: Timestamp.now())
            return (Int64(try connection.execute(insert).lastInsertID), true)
        }
    }
}
