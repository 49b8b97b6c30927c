import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct JSONParserTests {
    // MARK: valid documents

    @Test func scalars() throws {
        #expect(try parseJSON("null") == .null)
        #expect(try parseJSON("true") == .bool(true))
        #expect(try parseJSON("false") == .bool(false))
        #expect(try parseJSON("42") == .number("42"))
        #expect(try parseJSON(#""hi""#) == .string("hi"))
        #expect(try parseJSON(#""""#) == .string(""))
    }

    @Test func emptyContainers() throws {
        #expect(try parseJSON("[]") == .array([]))
        #expect(try parseJSON("{}") == .object([]))
        #expect(try parseJSON("[ ]") == .array([]))
        #expect(try parseJSON("{ \n }") == .object([]))
    }

    @Test func nestedDocumentKeepsKeyOrder() throws {
        let value = try parseJSON(#"{"b": [1, {"c": null}], "a": {"x": true, "y": "z"}}"#)
        #expect(value == .object([
            ("b", .array([.number("1"), .object([("c", .null)])])),
            ("a", .object([("x", .bool(true)), ("y", .string("z"))])),
        ]))
        // Order matters: the same members the other way round are a different document.
        #expect(value != .object([
            ("a", .object([("x", .bool(true)), ("y", .string("z"))])),
            ("b", .array([.number("1"), .object([("c", .null)])])),
        ]))
    }

    @Test func whitespaceAroundAndBetweenTokens() throws {
        #expect(try parseJSON(" \t\r\n[ 1 ,\t2 ]\n ") == .array([.number("1"), .number("2")]))
        #expect(try parseJSON("{ \"a\" : 1 }") == .object([("a", .number("1"))]))
    }

    @Test(arguments: ["19.99", "-0", "1e400", "0", "-12.5E+3", "1E-2", "0.0", "100", "0.10", "123456789012345678901234567890"])
    func numbersKeepTheirLiteralText(_ literal: String) throws {
        #expect(try parseJSON(literal) == .number(literal))
        #expect(try parseJSON("[\(literal)]") == .array([.number(literal)]))
    }

    // MARK: strings

    @Test func simpleEscapes() throws {
        #expect(try parseJSON(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{08}\u{0C}\n\r\t"))
    }

    @Test func unicodeEscapes() throws {
        #expect(try parseJSON(#""\u0041""#) == .string("A"))
        #expect(try parseJSON(#""\u00e9\u00C9""#) == .string("\u{E9}\u{C9}"))
        #expect(try parseJSON(#""\u0000""#) == .string("\u{0}"))
        #expect(try parseJSON(#""\uFFFF""#) == .string("\u{FFFF}"))
        #expect(try parseJSON(#""a\u20ACb""#) == .string("a€b"))
    }

    @Test func surrogatePairs() throws {
        #expect(try parseJSON(#""\uD83D\uDE00""#) == .string("😀"))
        #expect(try parseJSON(#""\ud834\udd1e""#) == .string("\u{1D11E}"))
        #expect(try parseJSON(#""\uDBFF\uDFFF""#) == .string("\u{10FFFF}"))
        #expect(try parseJSON(#""\uD800\uDC00""#) == .string("\u{10000}"))
    }

    @Test func rawUTF8IsKept() throws {
        let bytes: [UInt8] = [0x22] + Array("café 😀 日本".utf8) + [0x22]
        let value = try JSONParser.parse(bytes)
        #expect(value == .string("café 😀 日本"))
        // Exactly the same scalars, not a normalised form.
        guard case .string(let decoded) = value else { return }
        #expect(Array(decoded.unicodeScalars) == Array("café 😀 日本".unicodeScalars))
    }

    @Test func escapesBetweenRawRuns() throws {
        #expect(try parseJSON(#""é\n日\u0041本""#) == .string("é\n日A本"))
    }

    @Test func deleteCharacterIsAllowedRaw() throws {
        #expect(try JSONParser.parse([0x22, 0x7F, 0x22]) == .string("\u{7F}"))
    }

    // MARK: errors

    @discardableResult
    private func rejects(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> JSONParser.SyntaxError? {
        #expect(throws: JSONParser.SyntaxError.self, "\(text(bytes).debugDescription)", sourceLocation: sourceLocation) {
            try JSONParser.parse(bytes)
        }
    }

    @discardableResult
    private func rejects(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> JSONParser.SyntaxError? {
        rejects(Array(text.utf8), sourceLocation: sourceLocation)
    }

    @Test(arguments: ["", " ", "\n\t "])
    func emptyInput(_ input: String) {
        let error = rejects(input)
        #expect(error?.message == "unexpected end of input")
    }

    @Test(arguments: ["1 2", "{} x", "[1],", "nullnull", "\"a\"\"b\"", "true false", "{}{}", "1 /* c */"])
    func trailingData(_ input: String) {
        rejects(input)
    }

    @Test func trailingDataErrorPointsAtTheData() {
        let error = rejects("[1]  x")
        #expect(error?.offset == 5)
        #expect(error?.message == "unexpected data after the JSON value")
    }

    @Test(arguments: ["[1,]", "{\"a\":1,}", "[1,,2]", "[,1]", "{,}", "{\"a\":1,,\"b\":2}"])
    func trailingAndStrayCommas(_ input: String) {
        rejects(input)
    }

    @Test(arguments: ["01", "-01", "00", "[01]", "{\"a\":007}", "1.", ".5", "+1", "-", "1e", "1e+", "1E-", "0x10",
                      "NaN", "Infinity", "-Infinity", "--1", "1.e3", "-.5", "1..2"])
    func invalidNumbers(_ input: String) {
        rejects(input)
    }

    @Test(arguments: [#""\uD800""#, #""\uDC00""#, #""\uDFFF""#, #""\uD800x""#, #""\uD800\u0041""#,
                      #""\uD800\n""#, #""\uD800\uD800""#, #""\uDE00\uD83D""#, #""\uD83D"#])
    func loneSurrogates(_ input: String) {
        rejects(input)
    }

    @Test(arguments: [UInt8(0x00), 0x01, 0x09, 0x0A, 0x0D, 0x1F])
    func controlCharacterInString(_ byte: UInt8) {
        let error = rejects([0x22, UInt8(ascii: "a"), byte, UInt8(ascii: "b"), 0x22])
        #expect(error?.message == "control character in string")
        #expect(error?.offset == 2)
    }

    @Test(arguments: [
        [UInt8(0x22), 0xFF, 0x22],                  // never valid in UTF-8
        [0x22, 0xC3, 0x22],                          // truncated two-byte sequence
        [0x22, 0xC0, 0xAF, 0x22],                    // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],              // an encoded surrogate (CESU-8)
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],        // above U+10FFFF
        [0x22, 0x80, 0x22],                          // lone continuation byte
        [0x22, 0x61, 0xE2, 0x82, 0x5C, 0x6E, 0x22],  // truncated sequence right before an escape
    ])
    func invalidUTF8InString(_ bytes: [UInt8]) {
        let error = rejects(bytes)
        #expect(error?.message == "invalid UTF-8 in string")
    }

    @Test func invalidUTF8OutsideStrings() {
        rejects([0xEF, 0xBB, 0xBF, 0x31])  // a byte-order mark is not JSON whitespace
        rejects([0x5B, 0xC3, 0xA9, 0x5D])
    }

    @Test(arguments: [#""abc"#, #"""#, #""abc\"#, #""abc\""#, #""\u12"#, #"["a]"#, #"{"a"#])
    func unterminatedStrings(_ input: String) {
        rejects(input)
    }

    @Test(arguments: [#""\x""#, #""\u12G4""#, #""\U0041""#, #""\'""#, #""\a""#, #""\ ""#])
    func invalidEscapes(_ input: String) {
        rejects(input)
    }

    @Test func duplicateKeys() {
        let error = rejects(#"{"a":1,"b":2,"a":3}"#)
        #expect(error?.message == #"duplicate key "a""#)
        rejects(#"{"x":{"a":1,"a":1}}"#)
        rejects(#"{"a":1,"\u0061":2}"#)  // the same key, once escaped
    }

    @Test func sameKeyInDifferentObjectsIsFine() throws {
        #expect(try parseJSON(#"{"a":{"a":1},"b":{"a":2}}"#) == .object([
            ("a", .object([("a", .number("1"))])),
            ("b", .object([("a", .number("2"))])),
        ]))
        #expect(try parseJSON(#"[{"a":1},{"a":2}]"#) == .array([.object([("a", .number("1"))]), .object([("a", .number("2"))])]))
    }

    @Test(arguments: ["tru", "nul", "fals", "True", "NULL", "nulll", "t", "'a'", "{a:1}", "{'a':1}", "{\"a\" 1}",
                      "{\"a\":}", "{1:2}", "[1 2]", "{\"a\":1 \"b\":2}", "]", "}", "[", "{", ":", "undefined"])
    func otherSyntaxErrors(_ input: String) {
        rejects(input)
    }

    // MARK: nesting limit

    private func nestedArrays(_ depth: Int) -> [UInt8] {
        Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
    }

    private func nestedObjects(_ depth: Int) -> [UInt8] {
        Array(String(repeating: #"{"a":"#, count: depth - 1).utf8) + Array("{}".utf8)
            + Array(repeating: UInt8(ascii: "}"), count: depth - 1)
    }

    @Test func maximumDepthIsAccepted() throws {
        #expect(JSONParser.maximumDepth == 64)
        _ = try JSONParser.parse(nestedArrays(JSONParser.maximumDepth))
        _ = try JSONParser.parse(nestedObjects(JSONParser.maximumDepth))
    }

    @Test func oneLevelMoreIsRefused() {
        let error = rejects(nestedArrays(JSONParser.maximumDepth + 1))
        #expect(error?.message.contains("nesting") == true)
        #expect(error?.offset == JSONParser.maximumDepth)
        let objectError = rejects(nestedObjects(JSONParser.maximumDepth + 1))
        #expect(objectError?.message.contains("nesting") == true)
    }

    @Test func depthIsCountedPerPathNotPerDocument() throws {
        // Two siblings, each maximumDepth deep including the outer array: depth must come back down.
        let inner = nestedArrays(JSONParser.maximumDepth - 1)
        let document = [UInt8(ascii: "[")] + inner + [UInt8(ascii: ",")] + inner + [UInt8(ascii: "]")]
        _ = try JSONParser.parse(document)
        let many = "[" + Array(repeating: "[[[]]]", count: 1000).joined(separator: ",") + "]"
        _ = try parseJSON(many)
    }

    @Test func hugeNestingIsAnErrorNotACrash() {
        let error = rejects(Array(repeating: UInt8(ascii: "["), count: 100_000))
        #expect(error?.message.contains("nesting") == true)
        rejects(nestedArrays(100_000))
        rejects(Array(String(repeating: #"{"a":"#, count: 100_000).utf8))
    }
}
