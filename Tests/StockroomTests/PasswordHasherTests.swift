import Testing
import PasswordHashing

@Suite struct PasswordHasherTests {
    private let hasher = PasswordHasher()
    /// A small, fast configuration for tests that do not check the default cost.
    private let cheap = PasswordHasher(memoryKiB: 8, iterations: 1, parallelism: 1)

    @Test func encodedFormCarriesTheOWASPParameters() throws {
        let encoded = try hasher.hash("correct horse battery staple")
        #expect(encoded.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        #expect(fields.count == 6)
        #expect(fields.count == 6 && fields[4].count == 22)  // 16-byte salt, unpadded base64
        #expect(fields.count == 6 && fields[5].count == 43)  // 32-byte hash, unpadded base64
    }

    @Test func verifiesTheRightPasswordOnly() throws {
        let encoded = try hasher.hash("correct horse battery staple")
        #expect(hasher.verify("correct horse battery staple", against: encoded))
        #expect(!hasher.verify("correct horse battery stapl", against: encoded))
        #expect(!hasher.verify("Correct horse battery staple", against: encoded))
        #expect(!hasher.verify("", against: encoded))
    }

    @Test func saltMakesEveryHashDifferent() throws {
        let first = try cheap.hash("same password")
        let second = try cheap.hash("same password")
        #expect(first != second)
        #expect(cheap.verify("same password", against: first))
        #expect(cheap.verify("same password", against: second))
    }

    /// Made with libargon2 directly from C (`argon2id_hash_encoded`, salt "stockroom-salt16"), so the
    /// Swift wrapper's handling of the password bytes is checked against an outside reference.
    @Test func verifiesHashesMadeElsewhere() {
        let reference = "$argon2id$v=19$m=19456,t=2,p=1$c3RvY2tyb29tLXNhbHQxNg$MDtDRYifznLS+bKTgkY15eZOPPvKsWvYOj+EDkuSUDg"
        #expect(hasher.verify("correct horse battery staple", against: reference))
        #expect(!hasher.verify("correct horse battery staple ", against: reference))
        let cheapReference = "$argon2id$v=19$m=8,t=1,p=1$c3RvY2tyb29tLXNhbHQxNg$AfhcqCNyAxTd33HPyItGNDp8WzffqTPZPjwhG8e3dgQ"
        #expect(hasher.verify("päss", against: cheapReference))  // parameters come from the encoded form
        #expect(!hasher.verify("pass", against: cheapReference))
    }

    @Test func parametersAreWrittenIntoTheEncodedForm() throws {
        let encoded = try cheap.hash("x")
        #expect(encoded.hasPrefix("$argon2id$v=19$m=8,t=1,p=1$"))
        #expect(hasher.verify("x", against: encoded))
    }

    @Test func passwordBytesAreNotCStrings() throws {
        let encoded = try cheap.hash("a\u{0}b")
        #expect(cheap.verify("a\u{0}b", against: encoded))
        #expect(!cheap.verify("a", against: encoded))
        #expect(!cheap.verify("a\u{0}c", against: encoded))
    }

    @Test func unicodePasswords() throws {
        let encoded = try cheap.hash("пароль 🔑")
        #expect(cheap.verify("пароль 🔑", against: encoded))
        #expect(!cheap.verify("пароль", against: encoded))
    }

    @Test(arguments: [
        "", "not a hash", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$", "$argon2id$v=19$m=19456,t=2,p=1$garbage$garbage",
        "$argon2i$v=19$m=8,t=1,p=1$c3RvY2tyb29tLXNhbHQxNg$AfhcqCNyAxTd33HPyItGNDp8WzffqTPZPjwhG8e3dgQ",
        "$argon2id$v=19$m=8,t=1,p=1$c3RvY2tyb29tLXNhbHQxNg$AfhcqCNyAxTd33HPyItGNDp8WzffqTPZPjwhG8e3dgA",
        "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5zK2u4hFQmYz4sBySMDb4KZQ5iC1xx2",
    ])
    func garbageNeverVerifies(_ encoded: String) {
        #expect(!hasher.verify("päss", against: encoded))
        #expect(!hasher.verify("", against: encoded))
    }
}
