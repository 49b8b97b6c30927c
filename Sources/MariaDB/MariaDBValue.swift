/// A value bound to a prepared statement parameter.
public enum MariaDBValue: Sendable, Equatable {
    case null
    case int(Int64)
    case string(String)
    case bytes([UInt8])
}

extension MariaDBValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}

/// One row of a result, every column as the text (or bytes) the client library produced.
/// DECIMAL arrives exact as text; DATETIME as `YYYY-MM-DD hh:mm:ss`.
public struct MariaDBRow: Sendable {
    public let columns: [[UInt8]?]

    public init(columns: [[UInt8]?]) { self.columns = columns }

    public func isNull(_ index: Int) -> Bool { columns[index] == nil }

    public func bytes(_ index: Int) -> [UInt8]? { columns[index] }

    public func string(_ index: Int) -> String? {
        columns[index].map { String(decoding: $0, as: UTF8.self) }
    }

    public func int(_ index: Int) -> Int64? {
        guard let bytes = columns[index], !bytes.isEmpty else { return nil }
        var value: Int64 = 0
        var negative = false
        for (offset, byte) in bytes.enumerated() {
            if offset == 0 && byte == UInt8(ascii: "-") { negative = true; continue }
            guard byte >= 48 && byte <= 57 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(Int64(byte - 48))
            if overflow1 || overflow2 { return nil }
            value = added
        }
        return negative ? -value : value
    }
}

/// Everything one statement execution produced.
public struct MariaDBResult: Sendable {
    public var rows: [MariaDBRow]
    public var affectedRows: UInt64
    public var lastInsertID: UInt64

    public var first: MariaDBRow? { rows.first }
}
