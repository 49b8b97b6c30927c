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

    /// The run-copying writer and the cursor both escape exactly as before: quotes, backslashes,
    /// control bytes; multi-byte UTF-8 passes through.
    @Test(arguments: ["", "plain", #"a "quoted" name"#, #"back\slash\"#, "tab\tnew\nline\rret", "\u{00}\u{01}\u{1F}\u{7F}",
                      "ünïcode é😀 名前", "\"\\\u{08}\u{0C}x"])
    func stringsFromBytesAreEscapedLikeStrings(_ name: String) throws {
        var fromSlice = JSONWriter()
        fromSlice.writeString(utf8: Array(name.utf8)[...])
        var fromSequence = JSONWriter()
        fromSequence.writeString(utf8: name.utf8.lazy.map { $0 })  // no contiguous storage
        var fromCursor = JSONWriter()
        let bytes = Array(name.utf8)
        fromCursor.writeRaw(upTo: JSONWriter.Cursor.maximumStringCount(bytes.count)) { $0.writeString(utf8: bytes[...]) }
        let expected = JSONWriter.encode(.string(name))
        #expect(fromSlice.bytes == expected)
        #expect(fromSequence.bytes == expected)
        #expect(fromCursor.bytes == expected)
        #expect(try JSONParser.parse(expected) == .string(name))
    }

    @Test func everyControlByteTakesItsLongestEscapeWithinTheBound() {
        let bytes: [UInt8] = Array(0x00..<0x20)
        var writer = JSONWriter()
        writer.writeRaw(upTo: JSONWriter.Cursor.maximumStringCount(bytes.count)) { $0.writeString(utf8: bytes[...]) }
        #expect(writer.bytes == JSONWriter.encode(.string(String(decoding: bytes, as: UTF8.self))))
        #expect(writer.bytes.count <= JSONWriter.Cursor.maximumStringCount(bytes.count))
    }

    /// A product row's JSON from the database text, timestamps with every digit 0 and every 9.
    @Test func productColumnsAreWrittenFromTheirBytes() {
        func columns(_ name: String, _ created: String, _ updated: String) -> ProductColumns {
            ProductColumns(id: Array("42".utf8)[...], name: Array(name.utf8)[...], price: Array("0.10".utf8)[...],
                           stock: Array("0".utf8)[...], createdAt: Array(created.utf8)[...], updatedAt: Array(updated.utf8)[...])
        }
        var writer = JSONWriter()
        columns(#"Tea "Earl" \ grey\#u{01} é😀"#, "0000-00-00 00:00:00", "9999-09-29 19:59:59").writeJSON(into: &writer)
        #expect(text(writer.bytes) == #"{"id":42,"name":"Tea \"Earl\" \\ grey\u0001 é😀","price":0.10,"stock":0,"#
            + #""created_at":"0000-00-00T00:00:00Z","updated_at":"9999-09-29T19:59:59Z"}"#)
        // The same as the domain value's JSON.
        let instant = Timestamp(secondsSinceEpoch: 1_767_916_800)  // 2026-01-09 00:00:00
        let product = Product(id: 42, name: "x\"y", price: Money(cents: 1999), stock: 7, createdAt: instant, updatedAt: instant)
        var fromColumns = JSONWriter()
        ProductColumns(id: Array("42".utf8)[...], name: Array("x\"y".utf8)[...], price: Array("19.99".utf8)[...],
                       stock: Array("7".utf8)[...], createdAt: Array(instant.databaseText.utf8)[...],
                       updatedAt: Array(instant.databaseText.utf8)[...]).writeJSON(into: &fromColumns)
        #expect(fromColumns.bytes == JSONWriter.encode(product.json))
    }
}
