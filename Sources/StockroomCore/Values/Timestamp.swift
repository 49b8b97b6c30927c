import Glibc

/// Whole-second UTC instants, written to DATETIME columns and as RFC 3339 in JSON.
public struct Timestamp: Equatable, Comparable, Sendable {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }

    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(secondsSinceEpoch: Int64(spec.tv_sec))
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSinceEpoch < rhs.secondsSinceEpoch }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(secondsSinceEpoch: secondsSinceEpoch + seconds) }

    private func fields() -> tm {
        var time = time_t(secondsSinceEpoch)
        var broken = tm()
        gmtime_r(&time, &broken)
        return broken
    }

    /// Writes `YYYY-MM-DD`, `separator`, `hh:mm:ss` as ASCII digits.
    private func formatted(separator: UInt8, suffix: UInt8?) -> String {
        let t = fields()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        func digits(_ value: Int32, _ width: Int) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                bytes.append(UInt8(0x30 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(t.tm_year + 1900, 4); bytes.append(UInt8(ascii: "-"))
        digits(t.tm_mon + 1, 2); bytes.append(UInt8(ascii: "-"))
        digits(t.tm_mday, 2); bytes.append(separator)
        digits(t.tm_hour, 2); bytes.append(UInt8(ascii: ":"))
        digits(t.tm_min, 2); bytes.append(UInt8(ascii: ":"))
        digits(t.tm_sec, 2)
        if let suffix { bytes.append(suffix) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `2026-01-09 14:06:33`, for DATETIME parameters (the session time zone is UTC).
    public var databaseText: String { formatted(separator: UInt8(ascii: " "), suffix: nil) }

    /// `2026-01-09T14:06:33Z`
    public var rfc3339: String { formatted(separator: UInt8(ascii: "T"), suffix: UInt8(ascii: "Z")) }

    /// Parses DATETIME text as returned by MariaDB (`YYYY-MM-DD hh:mm:ss[.ffffff]`).
    public init?(databaseText text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int32(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var broken = tm()
        broken.tm_year = year - 1900
        broken.tm_mon = month - 1
        broken.tm_mday = day
        broken.tm_hour = hour
        broken.tm_min = minute
        broken.tm_sec = second
        secondsSinceEpoch = Int64(timegm(&broken))
    }
}
