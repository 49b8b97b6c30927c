/// A registered account.
public struct User: Sendable, Equatable {
    public enum Role: String, Sendable { case customer, admin }

    public let id: Int64
    public let username: String
    public let role: Role
    public let createdAt: Timestamp

    public init(id: Int64, username: String, role: Role, createdAt: Timestamp) {
        self.id = id
        self.username = username
        self.role = role
        self.createdAt = createdAt
    }

    public var isAdmin: Bool { role == .admin }
}

/// The contract's rules for usernames and passwords, shared with `stockroomctl create-admin`.
public enum AccountRules {
    /// 3..32 characters of [A-Za-z0-9_.-].
    public static func isValidUsername(_ name: String) -> Bool {
        let bytes = name.utf8
        return (3...32).contains(bytes.count) && bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
    }

    /// 8..128 characters.
    public static func isValidPassword(_ password: String) -> Bool { (8...128).contains(password.count) }

    /// Longer passwords are not even hashed: a login with one is a failure at the dummy hash's cost.
    public static let longestCheckedPassword = 1024
}
