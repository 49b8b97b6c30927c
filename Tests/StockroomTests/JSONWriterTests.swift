import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct JSONWriterTests {
    private func written(_ value: JSONValue) -> String { text(JSONWriter.encode(value)) }

    @Test func scalars() {
        #expect(written(.null) == "null")
        #expect(written(.bool(true)) == "true")
        #expect(written(.bool(false)) == "false")
        #expect(written(.string("")) == #""""#)
    }

    @Test(arguments: ["19.99", "-0", "1e400", "0.10", "123456789012345678901234567890"])
    func numbersAreWrittenFromTheirText(_ literal: String) {
        #expect(written(.number(literal)) == literal)
    }

    @Test func quotesAndBackslashAreEscaped() {
        #expect(written(.string(#"say "hi""#)) == #""say \"hi\"""#)
        #expect(written(.string(#"C:\dir\"#)) == #""C:\\dir\\""#)
        #expect(written(.string(#"\""#)) == #""\\\"""#)
    }

    @Test func newlineReturnAndTabUseShortEscapes() {
        #expect(written(.string("a\nb")) == #""a\nb""#)
        #expect(written(.string("a\rb\tc")) == #""a\rb\tc""#)
    }

    @Test func otherControlCharactersUseUnicodeEscapes() {
        #expect(written(.string("\u{01}")) == #""\u0001""#)
        #expect(written(.string("\u{00}")) == #""\u0000""#)
        #expect(written(.string("\u{08}\u{0C}")) == #""\u0008\u000c""#)
        #expect(written(.string("x\u{1F}y")) == #""x\u001fy""#)
    }

    @Test func everyControlCharacterIsEscaped() {
        for scalar in (0x00..<0x20).compactMap(Unicode.Scalar.init) {
            let bytes = JSONWriter.encode(.string(String(scalar)))
            #expect(bytes.allSatisfy { $0 >= 0x20 }, "U+\(String(scalar.value, radix: 16)) written raw")
        }
    }

    @Test func nonASCIIIsWrittenAsRawUTF8() {
        #expect(JSONWriter.encode(.string("é😀")) == [0x22] + Array("é😀".utf8) + [0x22])
        #expect(written(.string("/\u{7F}")) == "\"/\u{7F}\"")  // neither needs escaping
    }

    @Test func containersAreCompactAndOrdered() {
        let value: JSONValue = .object([
            ("z", .array([.number("1"), .bool(true), .null])),
            ("a", .object([("k\"ey", .string("v"))])),
            ("e", .array([])),
            ("o", .object([])),
        ])
        #expect(written(value) == #"{"z":[1,true,null],"a":{"k\"ey":"v"},"e":[],"o":{}}"#)
    }

    @Test func writeStringOnAnInstanceAppends() {
        var writer = JSONWriter()
        writer.writeString("a")
        writer.write(.number("1"))
        #expect(text(writer.bytes) == #""a"1"#)
    }

    @Test func roundTripOfANestedValue() throws {
        let value: JSONValue = .object([
            ("name", .string("Widget \"Pro\"\\ 2\n\t\u{01}\u{1F} café 😀 \u{7F}")),
            ("price", .number("19.99")),
            ("huge", .number("1e400")),
            ("negativeZero", .number("-0")),
            ("tags", .array([.string(""), .null, .bool(false), .array([.array([])])])),
            ("nested", .object([("deeper", .object([("k", .number("-12.5E+3"))])), ("", .string("empty key"))])),
            ("\u{0}key\nwith\"escapes", .bool(true)),
        ])
        #expect(try JSONParser.parse(JSONWriter.encode(value)) == value)
    }

    @Test func roundTripOfEveryControlCharacter() throws {
        let all = String(String.UnicodeScalarView((0x00..<0x20).compactMap(Unicode.Scalar.init)))
        #expect(try JSONParser.parse(JSONWriter.encode(.string(all))) == .string(all))
    }

    @Test func parseThenWriteIsStable() throws {
        let compact = #"{"a":[1,2.5,-0,1e400],"b":{"c":"\"\\\n\u0001é"},"d":null}"#
        #expect(written(try parseJSON(compact)) == compact)
    }
}
