@testable import StockroomCore
@testable import StockroomHTTP

// Small helpers shared by the test files: JSON from string literals, and the parts of an
// HTTPError / Response that tests compare.

func parseJSON(_ text: String) throws -> JSONValue {
    try JSONParser.parse(Array(text.utf8))
}

func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

extension HTTPError {
    /// The `field` extra key, if any (`.null` for a body that is not an object).
    var field: JSONValue? { extra.first { $0.key == "field" }?.value }

    func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
}
