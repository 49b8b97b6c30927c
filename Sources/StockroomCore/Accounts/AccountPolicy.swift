import PasswordHashing

/// How accounts are checked: the password hasher, how long a session lasts, and the login throttle.
public struct AccountPolicy: Sendable {
    public let hasher: PasswordHasher
    public let sessionLifetimeSeconds: Int64
    /// Verified against when the user does not exist, so both failures cost one argon2id verify.
    let dummyPasswordHash: String

    /// Failed logins per account within the window before logins are refused for a while.
    public static let maximumFailures = 10
    public static let failureWindowSeconds: Int64 = 15 * 60

    public init(hasher: PasswordHasher = PasswordHasher(), sessionLifetimeSeconds: Int64 = 86_400) throws {
        self.hasher = hasher
        self.sessionLifetimeSeconds = sessionLifetimeSeconds
        self.dummyPasswordHash = try hasher.hash("stockroom-dummy-password")
    }
}
