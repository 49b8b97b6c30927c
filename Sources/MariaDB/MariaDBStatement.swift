import CMariaDB

/// A server-side prepared statement. Owned by its connection (which closes it first) and used by
/// the connection's thread only. Result buffers are allocated once per statement, not per row.
final class MariaDBStatement {
    /// How a result column is fetched: integers and times in binary (their text conversion in
    /// Connector/C goes through sprintf), everything else as the text the server sends.
    private enum ColumnKind {
        case signedInteger, unsignedInteger, date, dateTime, text
    }

    /// The bind buffers of a result's columns, made from its metadata and reused for every row.
    private final class ResultLayout {
        let kinds: [ColumnKind]
        let columnCount: Int
        let binds: UnsafeMutablePointer<MYSQL_BIND>
        let buffers: [UnsafeMutableRawPointer]
        let capacities: [Int]
        let lengths: UnsafeMutablePointer<UInt>
        let nulls: UnsafeMutablePointer<my_bool>
        let errors: UnsafeMutablePointer<my_bool>
        /// A result's text and column ends, row after row, written here first and copied out once
        /// per result: one allocation each per result, not per row. Reused by the next result.
        private var textBuffer = ScratchBuffer<UInt8>(initialCapacity: 1024, largest: 1 << 16)
        private var endsBuffer = ScratchBuffer<Int32>(initialCapacity: 256, largest: 1 << 14)
        var text: UnsafeMutablePointer<UInt8> { textBuffer.start }
        var ends: UnsafeMutablePointer<Int32> { endsBuffer.start }

        init(metadata: UnsafeMutablePointer<MYSQL_RES>) {
            var capacities: [Int] = []
            var types: [enum_field_types] = []
            var kinds: [ColumnKind] = []
            let count = Int(mysql_num_fields(metadata))
            if let fields = mysql_fetch_fields(metadata) {
                for index in 0..<count {
                    let type = fields[index].type
                    switch type {
                    case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
                        kinds.append(fields[index].flags & UInt32(UNSIGNED_FLAG) != 0 ? .unsignedInteger : .signedInteger)
                        types.append(MYSQL_TYPE_LONGLONG)
                        capacities.append(8)
                    case MYSQL_TYPE_DATETIME, MYSQL_TYPE_TIMESTAMP, MYSQL_TYPE_DATE:
                        kinds.append(type == MYSQL_TYPE_DATE ? .date : .dateTime)
                        types.append(type)
                        capacities.append(MemoryLayout<MYSQL_TIME>.size)
                    default:
                        kinds.append(.text)
                        let isBinary = type == MYSQL_TYPE_BLOB || type == MYSQL_TYPE_TINY_BLOB
                            || type == MYSQL_TYPE_MEDIUM_BLOB || type == MYSQL_TYPE_LONG_BLOB
                        types.append(isBinary ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING)
                        // Start small for long columns; a longer value is fetched whole on truncation.
                        capacities.append(max(64, min(Int(fields[index].length), 1024)) + 1)
                    }
                }
            }
            self.kinds = kinds
            columnCount = capacities.count
            self.capacities = capacities
            let slots = max(columnCount, 1)
            binds = .allocate(capacity: slots)
            binds.initialize(repeating: MYSQL_BIND(), count: slots)
            lengths = .allocate(capacity: slots)
            lengths.initialize(repeating: 0, count: slots)
            nulls = .allocate(capacity: slots)
            nulls.initialize(repeating: 0, count: slots)
            errors = .allocate(capacity: slots)
            errors.initialize(repeating: 0, count: slots)
            var buffers: [UnsafeMutableRawPointer] = []
            for index in 0..<columnCount {
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacities[index], alignment: 8)
                buffers.append(buffer)
                binds[index].buffer_type = types[index]
                binds[index].buffer = buffer
                binds[index].buffer_length = UInt(capacities[index])
                binds[index].length = lengths + index
                binds[index].is_null = nulls + index
                binds[index].error = errors + index
                binds[index].is_unsigned = kinds[index] == .unsignedInteger ? 1 : 0
            }
            self.buffers = buffers
        }

        /// Room for `count` more bytes after `used` ones, and for `columns` more ends after `usedEnds`.
        func reserve(text count: Int, after used: Int, ends columns: Int, after usedEnds: Int) {
            textBuffer.reserve(count, after: used)
            endsBuffer.reserve(columns, after: usedEnds)
        }

        /// After a large result, back to the first sizes: a statement keeps no large buffer around.
        func shrink() {
            textBuffer.shrink()
            endsBuffer.shrink()
        }

        deinit {
            textBuffer.deallocate()
            endsBuffer.deallocate()
            for buffer in buffers { buffer.deallocate() }
            binds.deallocate()
            lengths.deallocate()
            nulls.deallocate()
            errors.deallocate()
        }
    }

    private let handle: UnsafeMutablePointer<MYSQL_STMT>
    /// The connection's handle: a failed fetch can leave its error there, not on the statement.
    private let connection: UnsafeMutablePointer<MYSQL>
    private let parameterCount: Int
    /// From the metadata at prepare time; for INSERT ... RETURNING MariaDB only describes the
    /// result after the first execute, so it is made then.
    private var results: ResultLayout?

    /// Prepares `sql` on `connection`; on failure the statement handle is closed before throwing.
    init(connection: UnsafeMutablePointer<MYSQL>, sql: String) throws {
        guard let handle = mysql_stmt_init(connection) else {
            throw MariaDBStatement.error(statement: nil, connection: connection)
        }
        let utf8 = Array(sql.utf8)
        let status = utf8.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { mysql_stmt_prepare(handle, $0.baseAddress, UInt(buffer.count)) }
        }
        if status != 0 {
            let error = MariaDBStatement.error(statement: handle, connection: connection)
            mysql_stmt_close(handle)
            throw error
        }
        self.handle = handle
        self.connection = connection
        self.parameterCount = Int(mysql_stmt_param_count(handle))

        if let metadata = mysql_stmt_result_metadata(handle) {
            results = ResultLayout(metadata: metadata)
            mysql_free_result(metadata)
        }
    }

    deinit {
        results = nil
        mysql_stmt_close(handle)
    }

    func execute(_ parameters: [MariaDBValue]) throws -> MariaDBResult {
        precondition(parameters.count == parameterCount, "statement takes \(parameterCount) parameters, got \(parameters.count)")
        try bindAndExecute(parameters)
        if results == nil && mysql_stmt_field_count(handle) > 0, let metadata = mysql_stmt_result_metadata(handle) {
            results = ResultLayout(metadata: metadata)
            mysql_free_result(metadata)
        }
        var rows: [MariaDBRow] = []
        if let results, results.columnCount > 0 {
            defer { mysql_stmt_free_result(handle) }
            guard mysql_stmt_bind_result(handle, results.binds) == 0 else { throw lastError() }
            let columnCount = results.columnCount
            var textCount = 0
            var rowCount = 0
            defer { results.shrink() }
            fetching: while true {
                let status = mysql_stmt_fetch(handle)
                switch status {
                case 0, MYSQL_DATA_TRUNCATED:
                    textCount = try writeCurrentRow(results, at: textCount, endsAt: rowCount * columnCount)
                    rowCount += 1
                case MYSQL_NO_DATA:
                    break fetching
                default:
                    // A failed fetch is an error, never the end of the rows.
                    throw lastError()
                }
            }
            if rowCount > 0 {
                var storage: [UInt8] = []
                storage.append(contentsOf: UnsafeBufferPointer(start: results.text, count: textCount))
                var ends: [Int32] = []
                ends.append(contentsOf: UnsafeBufferPointer(start: results.ends, count: rowCount * columnCount))
                rows.reserveCapacity(rowCount)
                var start = 0
                for row in 0..<rowCount {
                    let firstColumn = row * columnCount
                    rows.append(MariaDBRow(storage: storage, ends: ends, firstColumn: firstColumn, start: start, count: columnCount))
                    for column in 0..<columnCount where results.ends[firstColumn + column] >= 0 {
                        start = Int(results.ends[firstColumn + column])
                    }
                }
            }
        }
        return MariaDBResult(rows: rows, affectedRows: UInt64(mysql_stmt_affected_rows(handle)),
                             lastInsertID: UInt64(mysql_stmt_insert_id(handle)))
    }

    private func bindAndExecute(_ parameters: [MariaDBValue]) throws {
        guard parameterCount > 0 else {
            guard mysql_stmt_execute(handle) == 0 else { throw lastError() }
            return
        }
        let binds = UnsafeMutablePointer<MYSQL_BIND>.allocate(capacity: parameterCount)
        binds.initialize(repeating: MYSQL_BIND(), count: parameterCount)
        var owned: [UnsafeMutableRawPointer] = []
        defer {
            for buffer in owned { buffer.deallocate() }
            binds.deallocate()
        }
        for (index, value) in parameters.enumerated() {
            switch value {
            case .null:
                binds[index].buffer_type = MYSQL_TYPE_NULL
            case .int(let number):
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
                buffer.storeBytes(of: number, as: Int64.self)
                owned.append(buffer)
                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                binds[index].buffer = buffer
            case .string(let text):
                let buffer = Self.copy(Array(text.utf8))
                owned.append(buffer.pointer)
                binds[index].buffer_type = MYSQL_TYPE_STRING
                binds[index].buffer = buffer.pointer
                binds[index].buffer_length = UInt(buffer.count)
            case .bytes(let bytes):
                let buffer = Self.copy(bytes)
                owned.append(buffer.pointer)
                binds[index].buffer_type = MYSQL_TYPE_BLOB
                binds[index].buffer = buffer.pointer
                binds[index].buffer_length = UInt(buffer.count)
            }
        }
        guard mysql_stmt_bind_param(handle, binds) == 0 else { throw lastError() }
        guard mysql_stmt_execute(handle) == 0 else { throw lastError() }
    }

    private static func copy(_ bytes: [UInt8]) -> (pointer: UnsafeMutableRawPointer, count: Int) {
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: bytes.count) }
        }
        return (pointer, bytes.count)
    }

    /// Writes the fetched row's columns as text after the result's first `offset` bytes, and their
    /// end offsets from `endsAt`; the result's byte count after it. The row's size is known before
    /// any byte is written: integers take at most 20 bytes, times 19, text its fetched length.
    private func writeCurrentRow(_ results: ResultLayout, at offset: Int, endsAt firstColumn: Int) throws -> Int {
        let columnCount = results.columnCount
        var size = 0
        for index in 0..<columnCount where results.nulls[index] == 0 {
            switch results.kinds[index] {
            case .signedInteger, .unsignedInteger: size += 20
            case .date, .dateTime: size += 19
            case .text: size += Int(results.lengths[index])
            }
        }
        results.reserve(text: size, after: offset, ends: columnCount, after: firstColumn)
        let text = results.text
        let ends = results.ends + firstColumn
        var position = offset
        for index in 0..<columnCount {
            guard results.nulls[index] == 0 else {
                ends[index] = -1
                continue
            }
            let target = text + position
            let source = results.buffers[index]
            switch results.kinds[index] {
            case .signedInteger:
                let value = source.load(as: Int64.self)
                position += Self.writeDecimal(value.magnitude, negative: value < 0, to: target)
            case .unsignedInteger:
                position += Self.writeDecimal(source.load(as: UInt64.self), negative: false, to: target)
            case .date, .dateTime:
                position += Self.writeDateTime(source.load(as: MYSQL_TIME.self), withTime: results.kinds[index] == .dateTime,
                                               to: target)
            case .text:
                let length = Int(results.lengths[index])
                if length <= results.capacities[index] {
                    target.initialize(from: source.assumingMemoryBound(to: UInt8.self), count: length)
                } else {
                    try fetchWhole(column: index, into: target, length: length, type: results.binds[index].buffer_type)
                }
                position += length
            }
            ends[index] = Int32(position)
        }
        return position
    }

    /// Writes `magnitude` in decimal (after a `-` when `negative`); the bytes written, at most 20.
    private static func writeDecimal(_ magnitude: UInt64, negative: Bool, to target: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = 1
        var rest = magnitude / 10
        while rest > 0 { digits += 1; rest /= 10 }
        var position = 0
        if negative { target[0] = UInt8(ascii: "-"); position = 1 }
        var value = magnitude
        for offset in stride(from: position + digits - 1, through: position, by: -1) {
            target[offset] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
            value /= 10
        }
        return position + digits
    }

    /// `YYYY-MM-DD hh:mm:ss` (DATE: `YYYY-MM-DD`), the text form MariaDB itself gives; the bytes
    /// written. Whether the time is written follows the column's type, not `time_type`: the binary
    /// protocol sends a DATETIME at 00:00:00 as a date alone, and Connector/C then marks it
    /// MYSQL_TIMESTAMP_DATE.
    private static func writeDateTime(_ time: MYSQL_TIME, withTime: Bool, to target: UnsafeMutablePointer<UInt8>) -> Int {
        func two(_ value: UInt32, at offset: Int) {
            target[offset] = UInt8(truncatingIfNeeded: value / 10 % 10) &+ 0x30
            target[offset + 1] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
        }
        two(time.year / 100, at: 0)
        two(time.year % 100, at: 2)
        target[4] = UInt8(ascii: "-")
        two(time.month, at: 5)
        target[7] = UInt8(ascii: "-")
        two(time.day, at: 8)
        guard withTime else { return 10 }
        target[10] = UInt8(ascii: " ")
        two(time.hour, at: 11)
        target[13] = UInt8(ascii: ":")
        two(time.minute, at: 14)
        target[16] = UInt8(ascii: ":")
        two(time.second, at: 17)
        return 19
    }

    /// A value longer than the column's buffer: fetch it again, whole, straight into `target`.
    private func fetchWhole(column index: Int, into target: UnsafeMutablePointer<UInt8>, length: Int,
                            type: enum_field_types) throws {
        var bind = MYSQL_BIND()
        var fetchedLength: UInt = 0
        target.initialize(repeating: 0, count: length)
        bind.buffer_type = type
        bind.buffer = UnsafeMutableRawPointer(target)
        bind.buffer_length = UInt(length)
        try withUnsafeMutablePointer(to: &fetchedLength) { lengthPointer in
            bind.length = lengthPointer
            guard mysql_stmt_fetch_column(handle, &bind, UInt32(index), 0) == 0 else {
                throw lastError()
            }
        }
    }

    private func lastError() -> MariaDBError {
        MariaDBStatement.error(statement: handle, connection: connection)
    }

    /// The statement's error, else the connection's (an unbuffered fetch that fails on a lock wait
    /// timeout or deadlock reports it only there), else CR_UNKNOWN_ERROR: never code 0.
    static func error(statement: UnsafeMutablePointer<MYSQL_STMT>?, connection: UnsafeMutablePointer<MYSQL>) -> MariaDBError {
        if let statement, mysql_stmt_errno(statement) != 0 {
            return MariaDBError(code: MariaDBError.Code(mysql_stmt_errno(statement)),
                                sqlState: String(cString: mysql_stmt_sqlstate(statement)),
                                serverMessage: String(cString: mysql_stmt_error(statement)))
        }
        if mysql_errno(connection) != 0 {
            return MariaDBError(code: MariaDBError.Code(mysql_errno(connection)),
                                sqlState: String(cString: mysql_sqlstate(connection)),
                                serverMessage: String(cString: mysql_error(connection)))
        }
        return MariaDBError(code: .unknownClientError, serverMessage: "the call failed without an error code")
    }
}

/// Memory a statement reuses from result to result: grows by doubling, keeping what is written,
/// and goes back to its first size once it has grown past `largest`.
struct ScratchBuffer<Element> {
    private(set) var start: UnsafeMutablePointer<Element>
    private var capacity: Int
    private let initialCapacity: Int
    private let largest: Int

    init(initialCapacity: Int, largest: Int) {
        self.initialCapacity = initialCapacity
        self.largest = largest
        capacity = initialCapacity
        start = .allocate(capacity: initialCapacity)
    }

    /// Room for `count` more elements after the first `used`, which are kept.
    mutating func reserve(_ count: Int, after used: Int) {
        guard used + count > capacity else { return }
        let grown = max(capacity * 2, used + count)
        let moved = UnsafeMutablePointer<Element>.allocate(capacity: grown)
        moved.moveInitialize(from: start, count: used)
        start.deallocate()
        start = moved
        capacity = grown
    }

    mutating func shrink() {
        guard capacity > largest else { return }
        start.deallocate()
        capacity = initialCapacity
        start = .allocate(capacity: initialCapacity)
    }

    func deallocate() { start.deallocate() }
}
