import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct SessionTokenTests {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Decodes unpadded base64url into its bits; nil for a character outside the alphabet.
    private func decode(_ token: String) -> (bytes: [UInt8], leftoverBits: Int, leftover: UInt32)? {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for character in token {
            guard let value = Self.alphabet.firstIndex(of: character) else { return nil }
            buffer = buffer << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        return (bytes, bits, buffer)
    }

    @Test func generatedTokenIs43Base64URLCharacters() throws {
        let (token, _) = SessionToken.generate()
        #expect(token.utf8.count == 43)
        #expect(token.allSatisfy { Self.alphabet.contains($0) })
        #expect(SessionToken.isWellFormed(token[...]))
    }

    @Test func tokenEncodes32BytesCanonically() throws {
        for _ in 0..<50 {
            let (token, _) = SessionToken.generate()
            let decoded = try #require(decode(token))
            #expect(decoded.bytes.count == 32)
            #expect(decoded.leftoverBits == 2)
            #expect(decoded.leftover == 0, "non-canonical final character in \(token)")
        }
    }

    @Test func tokensUseTheWholeAlphabet() {
        var seen = Set<Character>()
        for _ in 0..<300 { seen.formUnion(SessionToken.generate().token.dropLast()) }
        #expect(seen.count == 64)  // missing characters after 12 600 draws: p < 1e-80
    }

    @Test func generatedHashIsSHA256OfTheToken() {
        let (token, hash) = SessionToken.generate()
        #expect(hash.count == 32)
        #expect(hash == SessionToken.hash(token))
    }

    @Test func hashMatchesKnownSHA256Vectors() {
        #expect(hex(SessionToken.hash("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SessionToken.hash("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SessionToken.hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func tokensDiffer() {
        let tokens = (0..<200).map { _ in SessionToken.generate().token }
        #expect(Set(tokens).count == tokens.count)
        let first = SessionToken.generate()
        let second = SessionToken.generate()
        #expect(first.token != second.token)
        #expect(first.hash != second.hash)
    }

    @Test func wellFormedAcceptsEveryAlphabetCharacter() {
        let token = String(Self.alphabet.prefix(43))
        #expect(SessionToken.isWellFormed(token[...]))
        #expect(SessionToken.isWellFormed(String(Self.alphabet.suffix(43))[...]))
    }

    @Test(arguments: [
        "", String(repeating: "A", count: 42), String(repeating: "A", count: 44), String(repeating: "A", count: 42) + "+",
        String(repeating: "A", count: 42) + "/", String(repeating: "A", count: 42) + "=", String(repeating: "A", count: 42) + " ",
        " " + String(repeating: "A", count: 42), String(repeating: "A", count: 41) + "é", String(repeating: "A", count: 42) + "\n",
        String(repeating: "A", count: 42) + ".", String(repeating: "A", count: 42) + "\u{0}",
    ])
    func malformedTokensAreRefused(_ token: String) {
        #expect(!SessionToken.isWellFormed(token[...]))
    }
}
