/// The If-None-Match request header (RFC 9110 §13.1.2): `*` or a list of entity tags.
enum IfNoneMatch: Equatable, Sendable {
    case any
    case tags([EntityTag])

    /// Whether a current representation with this tag fails the condition, i.e. the answer is 304.
    /// `*` matches any current representation; a list matches by weak comparison.
    func matches(_ current: EntityTag) -> Bool {
        switch self {
        case .any: return true
        case .tags(let tags): return tags.contains { $0.weaklyMatches(current) }
        }
    }

    /// Parses a field value; nil when it is malformed (the caller then treats it as no match, so a
    /// bad header costs the client a full 200, never an error). Empty list elements are allowed.
    init?(_ value: String) {
        var value = value
        guard let parsed = value.withUTF8(Self.parse) else { return nil }
        self = parsed
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> IfNoneMatch? {
        var index = 0
        func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        skipSpaces()
        if index < bytes.count, bytes[index] == UInt8(ascii: "*") {
            index += 1
            skipSpaces()
            guard index == bytes.count else { return nil }
            return .any
        }
        var tags: [EntityTag] = []
        while true {
            // Separators and empty elements: OWS "," OWS.
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == UInt8(ascii: ",") {
                index += 1
            }
            if index == bytes.count { break }
            let start = index
            if bytes[index] == UInt8(ascii: "W"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                index += 2
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            // etagc: %x21 / %x23-7E / obs-text
            while index < bytes.count, bytes[index] == 0x21 || (bytes[index] >= 0x23 && bytes[index] != 0x7F) { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            tags.append(EntityTag(checkedHeaderValue: String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)))
            skipSpaces()
            guard index == bytes.count || bytes[index] == UInt8(ascii: ",") else { return nil }
        }
        return .tags(tags)
    }
}
