import MariaDB

/// A registered account, as the API shows it.
struct User {
    enum Role: String { case customer, admin }

    let id: Int64
    let username: String
    let role: Role
    let createdAt: Timestamp

    var json: JSONValue {
        .object([
            ("id", .number(String(id))), ("username", .string(username)),
            ("role", .string(role.rawValue)), ("created_at", .string(createdAt.rfc3339)),
        ])
    }

    /// From columns `id, username, role, created_at` starting at `offset`.
    init?(row: MariaDBRow, offset: Int = 0) {
        guard let id = row.int(offset), let username = row.string(offset + 1),
              let role = row.string(offset + 2).flatMap(Role.init(rawValue:)),
              let created = row.string(offset + 3).flatMap(Timestamp.init(databaseText:)) else { return nil }
        self.init(id: id, username: username, role: role, createdAt: created)
    }

    init(id: Int64, username: String, role: Role, createdAt: Timestamp) {
        self.id = id
        self.username = username
        self.role = role
        self.createdAt = createdAt
    }

    static func isValidUsername(_ name: String) -> Bool { AccountRules.isValidUsername(name) }
    static func isValidPassword(_ password: String) -> Bool { AccountRules.isValidPassword(password) }
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
}
