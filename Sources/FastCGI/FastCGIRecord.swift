import Glibc

/// The FastCGI 1.0 record layer: an 8-byte header (version, type, request id, content length,
/// padding length), then the content and the padding.
struct FastCGIRecordHeader: Equatable {
    static let size = 8
    /// The most content one record carries.
    static let maxContent = 0xFFFF

    enum Kind {
        static let beginRequest: UInt8 = 1
        static let abortRequest: UInt8 = 2
        static let endRequest: UInt8 = 3
        static let params: UInt8 = 4
        static let stdin: UInt8 = 5
        static let stdout: UInt8 = 6
        static let getValues: UInt8 = 9
        static let getValuesResult: UInt8 = 10
        static let unknownType: UInt8 = 11
    }

    enum ProtocolStatus {
        static let requestComplete: UInt8 = 0
        static let cantMultiplex: UInt8 = 1
        static let unknownRole: UInt8 = 3
    }

    static let responderRole = 1
    static let keepConnectionFlag: UInt8 = 1

    var version: UInt8
    var type: UInt8
    var requestID: UInt16
    var contentLength: Int
    var paddingLength: Int

    init(version: UInt8 = 1, type: UInt8, requestID: UInt16, contentLength: Int, paddingLength: Int = 0) {
        self.version = version
        self.type = type
        self.requestID = requestID
        self.contentLength = contentLength
        self.paddingLength = paddingLength
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        version = bytes[0]
        type = bytes[1]
        requestID = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        contentLength = Int(bytes[4]) << 8 | Int(bytes[5])
        paddingLength = Int(bytes[6])
    }

    /// Padded to a multiple of 8, as libfcgi and nginx do (optional in the protocol).
    static func padding(for contentLength: Int) -> Int { (8 - contentLength % 8) % 8 }

    func append(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: repeatElement(0, count: Self.size))
        store(into: &bytes, at: bytes.count - Self.size)
    }

    /// Writes the header over the 8 bytes at `offset` (a place kept for it before the content was known).
    func store(into bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = version
        bytes[offset + 1] = type
        bytes[offset + 2] = UInt8(requestID >> 8)
        bytes[offset + 3] = UInt8(requestID & 0xFF)
        bytes[offset + 4] = UInt8(contentLength >> 8)
        bytes[offset + 5] = UInt8(contentLength & 0xFF)
        bytes[offset + 6] = UInt8(paddingLength)
        bytes[offset + 7] = 0
    }

    /// One whole record: the header, `content` (at most `maxContent` bytes) and its padding.
    static func appendRecord<Content: Collection<UInt8>>(type: UInt8, requestID: UInt16, content: Content,
                                                          to bytes: inout [UInt8]) {
        let padding = padding(for: content.count)
        FastCGIRecordHeader(type: type, requestID: requestID, contentLength: content.count, paddingLength: padding).append(to: &bytes)
        bytes.append(contentsOf: content)
        bytes.append(contentsOf: repeatElement(0, count: padding))
    }

    /// FCGI_END_REQUEST with application status 0.
    static func appendEndRequest(id: UInt16, status: UInt8, to bytes: inout [UInt8]) {
        appendRecord(type: Kind.endRequest, requestID: id, content: [0, 0, 0, 0, status, 0, 0, 0], to: &bytes)
    }
}

/// FastCGI name-value pairs: a length of one byte below 128, else four bytes with the high bit set.
enum FastCGIPairs {
    /// Calls `visit` with each name and value; false when a length runs past the end.
    @inline(__always)
    static func decode(_ bytes: UnsafeRawBufferPointer,
                       _ visit: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) -> Bool {
        var index = 0
        func length() -> Int? {
            guard index < bytes.count else { return nil }
            let first = bytes[index]
            if first < 0x80 {
                index += 1
                return Int(first)
            }
            guard bytes.count - index >= 4 else { return nil }
            let value = Int(first & 0x7F) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            index += 4
            return value
        }
        while index < bytes.count {
            // Compared with what is left, never summed: forged lengths near Int32.max cannot wrap.
            guard let nameLength = length(), let valueLength = length(),
                  nameLength <= bytes.count - index, valueLength <= bytes.count - index - nameLength else { return false }
            let name = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + nameLength)])
            let value = UnsafeRawBufferPointer(rebasing: bytes[(index + nameLength)..<(index + nameLength + valueLength)])
            visit(name, value)
            index += nameLength + valueLength
        }
        return true
    }

    /// A pair whose name and value are both shorter than 128 bytes.
    static func appendShort(name: String, value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(name.utf8.count))
        bytes.append(UInt8(value.utf8.count))
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: value.utf8)
    }
}

/// The parameter names the application reads, for matching a pair's name without making a String.
struct FastCGIParameterNames: Sendable {
    /// The names sorted by length, and for each length the first of them and how many: a pair's
    /// name is compared only with wanted names of its length, most of nginx's ~35 with none.
    private let bytes: [[UInt8]]
    private let names: [String]
    private let firstOfLength: [Int]
    private let countOfLength: [Int]

    init(_ names: Set<String>) {
        self.names = names.sorted { ($0.utf8.count, $0) < ($1.utf8.count, $1) }
        bytes = self.names.map { Array($0.utf8) }
        let longest = bytes.last?.count ?? 0
        var first = [Int](repeating: 0, count: longest + 1)
        var count = [Int](repeating: 0, count: longest + 1)
        for (index, name) in bytes.enumerated().reversed() {
            first[name.count] = index
            count[name.count] += 1
        }
        firstOfLength = first
        countOfLength = count
    }

    /// The wanted name equal to `name`, as a String made once (not one per request).
    @inline(__always)
    func match(_ name: UnsafeRawBufferPointer) -> String? {
        guard name.count > 0, name.count < countOfLength.count else { return nil }
        let first = firstOfLength[name.count]
        for index in first..<(first + countOfLength[name.count]) {
            if bytes[index].withUnsafeBytes({ memcmp($0.baseAddress!, name.baseAddress!, name.count) }) == 0 {
                return names[index]
            }
        }
        return nil
    }
}
