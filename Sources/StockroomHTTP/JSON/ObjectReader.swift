import StockroomCore

/// Reads a JSON request body as an object with a known set of fields, producing the contract's
/// 400 (not JSON) and 422 (wrong shape, missing, wrong type, out of range, unknown field) errors.
struct ObjectReader {
    private let members: [(key: String, value: JSONValue)]
    /// Where this object sits in the body (`items[2].`), so errors name the field by its full path.
    private let prefix: String

    /// Parses `body`; `allowed` lists every field the endpoint knows.
    init(body: [UInt8], allowed: Set<String>) throws {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body)
        } catch let error as JSONParser.SyntaxError {
            throw HTTPError.invalidJSON(error.message)
        }
        guard case .object(let members) = value else {
            throw HTTPError(422, "validation_failed", "The request body must be a JSON object.", extra: [("field", .null)])
        }
        try self.init(members: members, prefix: "", allowed: allowed)
    }

    /// A nested object (e.g. one order line), its fields reported as `prefix + name`.
    init(members: [(key: String, value: JSONValue)], prefix: String, allowed: Set<String>) throws {
        if let unknown = members.first(where: { !allowed.contains($0.key) }) {
            throw HTTPError.validation(prefix + unknown.key, "Unknown field '\(Self.printable(prefix + unknown.key))'.")
        }
        self.members = members
        self.prefix = prefix
    }

    /// Field names come from the client: keep error messages short and plain.
    static func printable(_ key: String) -> String {
        let clipped = key.unicodeScalars.prefix(64).filter { $0.value >= 0x20 && $0.value != 0x7F }
        return String(String.UnicodeScalarView(clipped))
    }

    func has(_ field: String) -> Bool { members.contains { $0.key == field } }

    func value(_ field: String) -> JSONValue? { members.first { $0.key == field }?.value }

    func string(_ name: String) throws -> String {
        let field = prefix + name
        guard let value = value(name) else { throw HTTPError.validation(field, "'\(field)' is required.") }
        guard case .string(let text) = value else {
            throw HTTPError.validation(field, "'\(field)' must be a string, not \(value.typeName).")
        }
        return text
    }

    /// A whole number in `range` (a JSON number whose value is integral: 5 and 5.0 alike).
    func integer(_ name: String, in range: ClosedRange<Int64>) throws -> Int64 {
        let field = prefix + name
        let literal = try numberLiteral(name)
        guard let exact = ExactDecimal(literal: literal), let number = exact.scaled(toDecimals: 0) else {
            if let exact = ExactDecimal(literal: literal), exact.scaled(toDecimals: 0) == nil, exact.exponent < 0 {
                throw HTTPError.validation(field, "'\(field)' must be a whole number.")
            }
            throw HTTPError.validation(field, "'\(field)' must be between \(range.lowerBound) and \(range.upperBound).")
        }
        guard range.contains(number) else {
            throw HTTPError.validation(field, "'\(field)' must be between \(range.lowerBound) and \(range.upperBound).")
        }
        return number
    }

    /// An id field: a whole number from 1 up. A positive integer beyond Int64 (no row has such an
    /// id) gives nil, so that the caller answers "not found" as for any other id that does not exist.
    func identifier(_ name: String) throws -> Int64? {
        let field = prefix + name
        let literal = try numberLiteral(name)
        guard let exact = ExactDecimal(literal: literal), exact.isIntegral else {
            throw HTTPError.validation(field, "'\(field)' must be a whole number.")
        }
        guard !exact.negative, !exact.isZero else {
            throw HTTPError.validation(field, "'\(field)' must be a positive whole number (an id).")
        }
        return exact.scaled(toDecimals: 0)
    }

    /// The field's JSON number literal; 422 when it is missing or not a number.
    private func numberLiteral(_ name: String) throws -> String {
        let field = prefix + name
        guard let value = value(name) else { throw HTTPError.validation(field, "'\(field)' is required.") }
        guard case .number(let literal) = value else {
            throw HTTPError.validation(field, "'\(field)' must be a number, not \(value.typeName).")
        }
        return literal
    }

    /// Money with at most two decimals, 0.00 ... 99999999.99.
    func money(_ name: String) throws -> Money {
        let field = prefix + name
        let literal = try numberLiteral(name)
        guard let exact = ExactDecimal(literal: literal) else {
            throw HTTPError.validation(field, "'\(field)' is not a valid amount.")
        }
        if exact.exponent < -2 && !exact.isZero {
            throw HTTPError.validation(field, "'\(field)' must have at most two decimals.")
        }
        guard let cents = exact.scaled(toDecimals: 2), cents >= 0, cents <= Money.maximum.cents else {
            throw HTTPError.validation(field, "'\(field)' must be between 0.00 and 99999999.99.")
        }
        return Money(cents: cents)
    }
}
