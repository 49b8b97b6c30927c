import CArgon2

/// argon2id password hashing through libargon2 (OWASP parameters by default: m=19 MiB, t=2, p=1).
/// The encoded form (`$argon2id$v=19$m=...$salt$hash`) carries its own parameters and salt.
public struct PasswordHasher: Sendable {
    public var memoryKiB: UInt32
    public var iterations: UInt32
    public var parallelism: UInt32
    public static let saltLength = 16
    public static let hashLength = 32

    public init(memoryKiB: UInt32 = 19 * 1024, iterations: UInt32 = 2, parallelism: UInt32 = 1) {
        self.memoryKiB = memoryKiB
        self.iterations = iterations
        self.parallelism = parallelism
    }

    public struct HashingError: Error, CustomStringConvertible {
        public let code: Int32
        public var description: String { "argon2 error \(code): \(String(cString: argon2_error_message(code)))" }
    }

    public func hash(_ password: String) throws -> String {
        var generator = SystemRandomNumberGenerator()  // getrandom(2): the OS's randomness
        let salt = (0..<Self.saltLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let encodedLength = argon2_encodedlen(iterations, memoryKiB, parallelism, UInt32(Self.saltLength),
                                              UInt32(Self.hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: encodedLength)
        let password = Array(password.utf8)
        let status = argon2id_hash_encoded(iterations, memoryKiB, parallelism, password, password.count,
                                           salt, salt.count, Self.hashLength, &encoded, encodedLength)
        guard status == ARGON2_OK.rawValue else { throw HashingError(code: status) }
        return String(cString: encoded)
    }

    /// False for a wrong password and for a malformed hash alike.
    public func verify(_ password: String, against encoded: String) -> Bool {
        let password = Array(password.utf8)
        return argon2id_verify(encoded, password, password.count) == ARGON2_OK.rawValue
    }
}
