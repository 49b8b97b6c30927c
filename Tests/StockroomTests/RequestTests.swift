import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct RequestTests {
    private func value(_ name: String, in query: String) -> String? {
        Request(method: "GET", path: "/", query: query).queryValue(name)
    }

    @Test(arguments: ["limit=20", "limit=20&after=5", "a=1=2", "=x&a=", "a", "a&a=2", "&a=1&", "limit=&after=",
                      "A=1&a=2", "ab=1&a=3", "a==", "x=1&&a=b&", ""])
    func theByteLevelPathAgreesWithDecoding(query: String) {
        let request = Request(method: "GET", path: "/", query: query)
        for name in ["a", "A", "limit", "after", "x", ""] {
            #expect(request.queryValue(name) == request.decodedQueryValue(name), "\(name) in \(query)")
        }
    }

    @Test func plainValues() {
        #expect(value("limit", in: "limit=10&after=5") == "10")
        #expect(value("after", in: "limit=10&after=5") == "5")
    }

    @Test func percentDecoding() {
        #expect(value("q", in: "q=caf%C3%A9") == "café")
        #expect(value("q", in: "q=caf%c3%a9") == "café")
        #expect(value("q", in: "q=%F0%9F%98%80") == "😀")
        #expect(value("q", in: "q=a%20b") == "a b")
        #expect(value("q", in: "q=a+b") == "a b")
        #expect(value("q", in: "q=%2B1") == "+1")
        #expect(value("q", in: "q=%26%3D%25") == "&=%")
        #expect(value("q", in: "q=%00") == "\u{0}")
    }

    @Test func firstOccurrenceWins() {
        #expect(value("a", in: "a=1&a=2") == "1")
        #expect(value("a", in: "b=0&a=first&b=1&a=second") == "first")
    }

    @Test func missingIsNil() {
        #expect(value("a", in: "") == nil)
        #expect(value("a", in: "b=1") == nil)
        #expect(value("a", in: "ab=1&ba=2") == nil)
        #expect(value("a", in: "A=1") == nil)
        #expect(value("a", in: "&&&") == nil)
    }

    @Test func emptyAndBareValues() {
        #expect(value("a", in: "a=") == "")
        #expect(value("flag", in: "flag") == "")
        #expect(value("flag", in: "x=1&flag&y=2") == "")
        #expect(value("a", in: "&&a=1&") == "1")
        #expect(value("a", in: "a==b") == "=b")
    }

    /// A broken escape is not decoded and not dropped: the raw text comes back, so validation refuses
    /// it (a bad `?limit=` is a 422, not the default).
    @Test(arguments: ["%", "%4", "%zz", "%G0", "%0g", "abc%", "a%2", "%FF", "%C3", "%C3%28", "%ED%A0%80", "ok%20then%"])
    func brokenPercentEncodingComesBackUndecoded(_ raw: String) {
        #expect(value("q", in: "q=\(raw)") == raw)
    }

    /// A sign is not a hex digit: `%+5` and `%-0` are broken escapes, returned undecoded.
    @Test(arguments: ["%+5", "%-0", "%+F"])
    func signedPercentEscapeIsBroken(_ raw: String) {
        #expect(value("q", in: "q=\(raw)") == raw)
    }

    @Test func namesArePercentDecodedToo() {
        #expect(value("a b", in: "a%20b=1") == "1")
        #expect(value("limit", in: "li%6Dit=5") == "5")
        #expect(value("a", in: "%61=first&a=second") == "first")
        #expect(value("a", in: "%6=1") == nil)
    }

    @Test func headersFromParameters() {
        let request = Request(method: "POST", path: "/x",
                              parameters: ["CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": "Bearer abc"])
        #expect(request.contentType == "application/json")
        #expect(request.authorization == "Bearer abc")
        #expect(Request(method: "POST", path: "/x", parameters: ["CONTENT_TYPE": ""]).contentType == nil)
        #expect(Request(method: "POST", path: "/x").contentType == nil)
        #expect(Request(method: "POST", path: "/x").authorization == nil)
    }

    @Test func responseHeaderLookupIgnoresCase() {
        let response = Response.json(201, .object([]), headers: [("Location", "/api/v1/products/1")])
        #expect(response.header("location") == "/api/v1/products/1")
        #expect(response.header("CONTENT-TYPE") == "application/json")
        #expect(response.header("Allow") == nil)
        #expect(response.body == Array("{}".utf8))
    }
}
