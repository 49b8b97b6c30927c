/// Writes JSON bytes directly, for responses. Numbers are written from exact text.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Bytes written as they are: a number's text, or a fragment already in JSON form.
    public mutating func writeRaw<Bytes: Sequence>(_ raw: Bytes) where Bytes.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    /// Up to `maximumCount` bytes written by `body` through a cursor straight into memory (on the
    /// stack when small) and appended at once: one capacity check instead of one per piece.
    public mutating func writeRaw(upTo maximumCount: Int, _ body: (inout Cursor) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(maximumCount, 1)) { buffer in
            var cursor = Cursor(buffer)
            body(&cursor)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<cursor.count]))
        }
    }

    public mutating func writeRaw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public static func encode(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let text): bytes.append(contentsOf: text.utf8)
        case .string(let text): writeString(text)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    public mutating func writeString(_ text: String) {
        writeString(utf8: text.utf8)
    }

    /// A string from UTF-8 bytes (e.g. a column value), escaped as JSON requires.
    public mutating func writeString<Bytes: Sequence>(utf8 source: Bytes) where Bytes.Element == UInt8 {
        if source.withContiguousStorageIfAvailable({ writeString(contiguous: $0) }) != nil { return }
        writeString(contiguous: Array(source))
    }

    private mutating func writeString(contiguous source: UnsafeBufferPointer<UInt8>) {
        writeRaw(upTo: Cursor.maximumStringCount(source.count)) { $0.writeString(utf8: source) }
    }

    private mutating func writeString(contiguous source: [UInt8]) {
        source.withUnsafeBufferPointer { writeString(contiguous: $0) }
    }
}

extension JSONWriter {
    /// Writes into memory sized beforehand (`writeRaw(upTo:_:)`), with no capacity check per byte.
    public struct Cursor {
        private let buffer: UnsafeMutableBufferPointer<UInt8>
        /// Bytes written so far.
        public private(set) var count = 0

        init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        /// At most 6 bytes a byte (`\u001f`), and the quotes.
        public static func maximumStringCount(_ byteCount: Int) -> Int { 2 + 6 * byteCount }

        public mutating func writeRaw(_ text: StaticString) {
            text.withUTF8Buffer { writeRaw($0) }
        }

        public mutating func writeRaw(_ raw: ArraySlice<UInt8>) {
            raw.withUnsafeBufferPointer { writeRaw($0) }
        }

        public mutating func writeRaw(_ raw: UnsafeBufferPointer<UInt8>) {
            precondition(count + raw.count <= buffer.count, "JSON cursor overrun")
            if let source = raw.baseAddress { (buffer.baseAddress! + count).initialize(from: source, count: raw.count) }
            count += raw.count
        }

        public mutating func writeByte(_ byte: UInt8) {
            precondition(count < buffer.count, "JSON cursor overrun")
            buffer[count] = byte
            count += 1
        }

        /// A string from UTF-8 bytes, escaped as JSON requires: `"`, `\` and control bytes.
        public mutating func writeString(utf8 source: UnsafeBufferPointer<UInt8>) {
            precondition(count + Self.maximumStringCount(source.count) <= buffer.count, "JSON cursor overrun")
            let out = buffer.baseAddress!
            var position = count
            out[position] = UInt8(ascii: "\"")
            position += 1
            for byte in source {
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    out[position] = byte
                    position += 1
                    continue
                }
                out[position] = UInt8(ascii: "\\")
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out[position + 1] = byte
                case 0x0A: out[position + 1] = UInt8(ascii: "n")
                case 0x0D: out[position + 1] = UInt8(ascii: "r")
                case 0x09: out[position + 1] = UInt8(ascii: "t")
                default:
                    func hex(_ digit: UInt8) -> UInt8 { digit < 10 ? digit + 0x30 : digit + 0x57 }
                    out[position + 1] = UInt8(ascii: "u")
                    out[position + 2] = UInt8(ascii: "0")
                    out[position + 3] = UInt8(ascii: "0")
                    out[position + 4] = hex(byte >> 4)
                    out[position + 5] = hex(byte & 0xF)
                    position += 4
                }
                position += 2
            }
            out[position] = UInt8(ascii: "\"")
            count = position + 1
        }

        public mutating func writeString(utf8 source: ArraySlice<UInt8>) {
            source.withUnsafeBufferPointer { writeString(utf8: $0) }
        }
    }
}
