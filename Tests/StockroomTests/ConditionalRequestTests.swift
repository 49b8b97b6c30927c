import Logging
import MariaDB
import Testing
@testable import StockroomHTTP

@Suite struct IfNoneMatchTests {
    private func tags(_ value: String) -> [EntityTag]? {
        guard case .tags(let tags)? = IfNoneMatch(value) else { return nil }
        return tags
    }

    @Test func star() {
        #expect(IfNoneMatch("*") == .any)
        #expect(IfNoneMatch("  *\t") == .any)
    }

    @Test func oneStrongAndOneWeakTag() {
        #expect(tags("\"abc\"") == [EntityTag(opaque: "abc")])
        #expect(tags("W/\"abc\"") == [EntityTag(opaque: "abc", isWeak: true)])
        #expect(tags("\"\"") == [EntityTag(opaque: "")])
    }

    @Test func aListWithSpacesAndEmptyElements() {
        #expect(tags("\"a\", W/\"b\",\t\"c\"") == [EntityTag(opaque: "a"), EntityTag(opaque: "b", isWeak: true), EntityTag(opaque: "c")])
        #expect(tags(", ,\"a\" ,, \"b\",") == [EntityTag(opaque: "a"), EntityTag(opaque: "b")])
        #expect(tags("") == [])
        #expect(tags(" , ") == [])
    }

    @Test func tagCharactersIncludeCommasAndObsText() {
        #expect(tags("\"a,b\"") == [EntityTag(opaque: "a,b")])
        #expect(tags("\"caf\u{E9}!#~\"") == [EntityTag(opaque: "caf\u{E9}!#~")])
    }

    @Test(arguments: [
        "abc", "\"abc", "abc\"", "\"a\" \"b\"", "\"a\" x", "w/\"a\"", "W/ \"a\"", "W/a", "*, \"a\"", "\"a\", *", "* *",
        "\"a b\"", "\"a\u{7F}\"", "\"a\"b\"", "'a'",
    ])
    func malformedValues(_ value: String) {
        #expect(IfNoneMatch(value) == nil, "\(value)")
    }

    @Test func matchingIsWeakComparison() {
        let current = EntityTag(opaque: "0123")
        #expect(IfNoneMatch("\"0123\"")?.matches(current) == true)
        #expect(IfNoneMatch("W/\"0123\"")?.matches(current) == true)
        #expect(IfNoneMatch("\"x\", \"0123\"")?.matches(current) == true)
        #expect(IfNoneMatch("*")?.matches(current) == true)
        #expect(IfNoneMatch("\"0124\"")?.matches(current) == false)
        #expect(IfNoneMatch("\"0123 \"") == nil)
        #expect(IfNoneMatch("")?.matches(current) == false)
    }
}

@Suite struct EntityTagTests {
    @Test func aBodyTagIsStrongAndThirteenHexDigits() {
        let tag = EntityTag(digestOf: Array("{\"id\":1}".utf8))
        #expect(!tag.isWeak)
        #expect(tag.opaque.count == 13)
        #expect(tag.opaque.allSatisfy { Array("0123456789abcdef".utf8).contains($0) })
        #expect(tag.headerValue.utf8.count == 15 && tag.headerValue.hasPrefix("\"") && tag.headerValue.hasSuffix("\""))
        #expect(EntityTag(opaque: "x").headerValue == "\"x\"")
        #expect(EntityTag(opaque: "x", isWeak: true).headerValue == "W/\"x\"")
    }

    /// Reference values from libxxhash 0.8.1 (XXH64, seed 0), every path: short, one stripe, several.
    @Test(arguments: [
        ("", 0xEF46_DB37_51D8_E999 as UInt64), ("a", 0xD24E_C4F1_A98C_6E5B), ("abc", 0x44BC_2CF5_AD77_0999),
        ("0123456789abcdefghijklmnopqrstu", 0x80AD_FC1D_4202_0F39), ("0123456789abcdefghijklmnopqrstuv", 0xBF7C_9DBE_16B5_C6E2),
        ("{\"id\":1,\"name\":\"Lamp\",\"price\":19.99,\"stock\":3,\"created_at\":\"2026-01-09T14:06:33Z\",\"updated_at\":\"2026-01-09T14:06:33Z\"}",
         0x7620_DDF7_772D_B825),
    ])
    func theDigestIsXXHash64(_ text: String, _ expected: UInt64) {
        #expect(Array(text.utf8).withUnsafeBytes { BodyDigest.digest($0) } == expected)
    }

    @Test func theDigestOfLongBodies() {
        let bytes = (0..<768).map { UInt8($0 % 256) }
        #expect(bytes.withUnsafeBytes { BodyDigest.digest($0) } == 0x8E03_C838_C596_036F)
        // The tag is the digest's first 13 hex digits.
        #expect(EntityTag(digestOf: bytes).headerValue == "\"8e03c838c5960\"")
    }

    @Test func theSameBytesGiveTheSameTag() {
        let body = Array("{\"id\":7,\"name\":\"Lamp\",\"price\":19.99,\"stock\":3}".utf8)
        #expect(EntityTag(digestOf: body) == EntityTag(digestOf: Array(body)))
    }

    @Test func everyOneByteChangeChangesTheTag() {
        // Every length from 0 to 40 (all tail paths: 8-byte words, a 4-byte word, single bytes).
        for length in 0...40 {
            let body = (0..<length).map { UInt8(0x30 + $0 % 10) }
            let tag = EntityTag(digestOf: body)
            for index in 0..<length {
                var changed = body
                changed[index] ^= 0x01
                #expect(EntityTag(digestOf: changed) != tag, "length \(length), byte \(index)")
            }
            #expect(EntityTag(digestOf: body + [0]) != tag, "length \(length) + a zero byte")
        }
    }

    @Test func stockInTheBodyChangesTheTag() {
        let before = EntityTag(digestOf: Array("{\"id\":7,\"stock\":10}".utf8))
        let after = EntityTag(digestOf: Array("{\"id\":7,\"stock\":9}".utf8))
        #expect(before != after)
    }
}

@Suite struct CachePolicyTests {
    private let body = Array("{\"id\":1}".utf8)

    private func answer(_ policy: CachePolicy, method: String = "GET", status: Int = 200,
                        ifNoneMatch: String? = nil) -> Response {
        var parameters: [String: String] = [:]
        parameters["HTTP_IF_NONE_MATCH"] = ifNoneMatch
        var response = Response(status: status, headers: [("Content-Type", "application/json")], body: body)
        response.applyCachePolicy(policy, to: Request(method: method, path: "/x", parameters: parameters))
        return response
    }

    private var tag: String { EntityTag(digestOf: body).headerValue }

    @Test func aRevalidatedOKCarriesTheTagAndNoCache() {
        let response = answer(.revalidate)
        #expect(response.status == 200 && response.body == body)
        #expect(response.header("ETag") == tag)
        #expect(response.header("Cache-Control") == "no-cache")
        #expect(response.header("Content-Type") == "application/json")
    }

    @Test func aMatchIsA304WithoutBodyKeepingTagAndCacheControl() {
        for condition in [tag, "W/" + tag, "\"other\", " + tag, "*"] {
            let response = answer(.revalidate, ifNoneMatch: condition)
            #expect(response.status == 304, "\(condition)")
            #expect(response.body.isEmpty)
            #expect(response.header("ETag") == tag && response.header("Cache-Control") == "no-cache")
            #expect(response.header("Content-Type") == nil)
        }
        #expect(answer(.revalidate, method: "HEAD", ifNoneMatch: tag).status == 304)
    }

    @Test func noMatchOrAMalformedHeaderIsTheFullAnswer() {
        for condition in ["\"other\"", "", "garbage", "\"unterminated", tag + " junk"] {
            let response = answer(.revalidate, ifNoneMatch: condition)
            #expect(response.status == 200 && response.body == body, "\(condition)")
            #expect(response.header("ETag") == tag)
        }
    }

    @Test func errorsAndOtherMethodsAreNeverStoredNorConditional() {
        for response in [answer(.revalidate, status: 404, ifNoneMatch: "*"), answer(.revalidate, method: "POST", ifNoneMatch: "*"),
                         answer(.noStore, ifNoneMatch: "*"), answer(.noStore, status: 201), answer(.noStore, status: 503)] {
            #expect(response.status != 304)
            #expect(response.header("Cache-Control") == "no-store")
            #expect(response.header("ETag") == nil)
        }
    }

    @Test func onlyThePublicCatalogReadsAreRevalidated() throws {
        let application = try StockroomApplication(configuration: StockroomConfiguration(database: MariaDBConfiguration()),
                                                   metrics: StockroomMetrics(), logger: Logger(label: "test"))
        let revalidated = application.router.routes.filter { $0.cachePolicy == .revalidate }.map { "\($0.method) \($0.name)" }
        #expect(Set(revalidated) == ["GET /api/v1/products", "GET /api/v1/products/{id}", "GET /api/v1/store/pricing"])
        #expect(application.router.routes.count > revalidated.count)
    }
}
