/// An HTTP entity tag (RFC 9110 §8.8.3), kept as its field value (`"…"` or `W/"…"`), so the tag of
/// a response is one string made once, and comparisons read slices of it without copying.
struct EntityTag: Equatable, Sendable {
    let headerValue: String

    init(opaque: String, isWeak: Bool = false) {
        headerValue = (isWeak ? "W/\"" : "\"") + opaque + "\""
    }

    /// A field value already checked by the caller (IfNoneMatch's parser).
    init(checkedHeaderValue: String) {
        headerValue = checkedHeaderValue
    }

    /// The strong tag of a body: 13 hex digits (52 bits) of its 64-bit digest. Strong, because equal
    /// tags mean byte-identical bodies (up to the digest's collisions), as a strong validator promises.
    init(digestOf body: [UInt8]) {
        let digest = body.withUnsafeBytes { BodyDigest.digest($0) }
        // 13 digits and the quotes are 15 bytes: a small string, which takes no allocation.
        headerValue = String(unsafeUninitializedCapacity: 15) { text in
            text[0] = UInt8(ascii: "\"")
            for index in 0..<13 {
                let nibble = UInt8(truncatingIfNeeded: digest >> UInt64(60 - 4 * index)) & 0x0F
                text[index + 1] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
            }
            text[14] = UInt8(ascii: "\"")
            return 15
        }
    }

    var isWeak: Bool { headerValue.utf8.first == UInt8(ascii: "W") }

    /// The text between the quotes.
    var opaque: Substring.UTF8View { headerValue.utf8.dropFirst(isWeak ? 3 : 1).dropLast() }

    /// Weak comparison (RFC 9110 §8.8.3.2): the opaque tags are equal, weak or not. If-None-Match
    /// uses it, so a tag that a proxy weakened (nginx's gzip turns `"x"` into `W/"x"`) still matches.
    func weaklyMatches(_ other: EntityTag) -> Bool {
        var mine = headerValue, theirs = other.headerValue
        return mine.withUTF8 { left in
            theirs.withUTF8 { right in
                // Contiguous bytes: comparing index views of String.UTF8View costs ten times more.
                left[(isWeak ? 3 : 1)..<(left.count - 1)].elementsEqual(right[(other.isWeak ? 3 : 1)..<(right.count - 1)])
            }
        }
    }
}

/// xxHash64 with seed 0 (a fast 64-bit digest for validators, not for security): four lanes over
/// each 32-byte stripe, then 8-, 4- and 1-byte steps over the rest, then the avalanche.
enum BodyDigest {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    static func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var offset = 0
        var hash: UInt64
        if bytes.count >= 32 {
            var lane1 = prime1 &+ prime2, lane2 = prime2, lane3: UInt64 = 0, lane4: UInt64 = 0 &- prime1
            while offset + 32 <= bytes.count {
                lane1 = round(lane1, word(bytes, offset))
                lane2 = round(lane2, word(bytes, offset + 8))
                lane3 = round(lane3, word(bytes, offset + 16))
                lane4 = round(lane4, word(bytes, offset + 24))
                offset += 32
            }
            hash = rotated(lane1, 1) &+ rotated(lane2, 7) &+ rotated(lane3, 12) &+ rotated(lane4, 18)
            hash = merged(merged(merged(merged(hash, lane1), lane2), lane3), lane4)
        } else {
            hash = prime5
        }
        hash &+= UInt64(bytes.count)
        while offset + 8 <= bytes.count {
            hash ^= round(0, word(bytes, offset))
            hash = rotated(hash, 27) &* prime1 &+ prime4
            offset += 8
        }
        if offset + 4 <= bytes.count {
            hash ^= UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) &* prime1
            hash = rotated(hash, 23) &* prime2 &+ prime3
            offset += 4
        }
        while offset < bytes.count {
            hash ^= UInt64(bytes[offset]) &* prime5
            hash = rotated(hash, 11) &* prime1
            offset += 1
        }
        hash ^= hash >> 33
        hash &*= prime2
        hash ^= hash >> 29
        hash &*= prime3
        hash ^= hash >> 32
        return hash
    }

    @inline(__always) private static func word(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always) private static func round(_ accumulator: UInt64, _ input: UInt64) -> UInt64 {
        rotated(accumulator &+ input &* prime2, 31) &* prime1
    }

    @inline(__always) private static func merged(_ hash: UInt64, _ lane: UInt64) -> UInt64 {
        (hash ^ round(0, lane)) &* prime1 &+ prime4
    }

    @inline(__always) private static func rotated(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }
}
