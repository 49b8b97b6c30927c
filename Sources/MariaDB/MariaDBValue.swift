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

/// One row of a result, every column as the text (or bytes) the API needs: integers in decimal,
/// DECIMAL exact as text, DATETIME as `YYYY-MM-DD hh:mm:ss`. The rows of one result share one
/// buffer (and one array of column ends), so a result takes two allocations, not two per row.
public struct MariaDBRow: Sendable {
    private let storage: [UInt8]
    /// End offset of each column in `storage`, row after row; -1 for NULL (the column then takes no bytes).
    private let ends: [Int32]
    /// This row's first column in `ends`, and where its bytes start in `storage`.
    private let firstColumn: Int
    private let start: Int
    public let count: Int

    init(storage: [UInt8], ends: [Int32], firstColumn: Int, start: Int, count: Int) {
        self.storage = storage
        self.ends = ends
        self.firstColumn = firstColumn
        self.start = start
        self.count = count
    }

    /// The column's bytes without copying them; nil for NULL.
    public func slice(_ index: Int) -> ArraySlice<UInt8>? {
        precondition(index >= 0 && index < count, "column \(index) of a row of \(count)")
        let end = ends[firstColumn + index]
        guard end >= 0 else { return nil }
        var begin = start
        var previous = index - 1
        while previous >= 0 {
            let previousEnd = ends[firstColumn + previous]
            if previousEnd >= 0 { begin = Int(previousEnd); break }
            previous -= 1
        }
        return storage[begin..<Int(end)]
    }

    public func bytes(_ index: Int) -> [UInt8]? { slice(index).map { Array($0) } }

    public func string(_ index: Int) -> String? {
        slice(index).map { String(decoding: $0, as: UTF8.self) }
    }

    public func int(_ index: Int) -> Int64? {
        guard let bytes = slice(index), !bytes.isEmpty else { return nil }
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
