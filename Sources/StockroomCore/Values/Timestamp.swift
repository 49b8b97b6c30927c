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
        func number(_ range: Range<Int>) -> Int32? { Self.digits(bytes, range) }
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

    /// Parses RFC 3339 (`2026-01-09T14:06:33Z`, `2026-01-09T16:06:33.5+02:00`): UTC, fractions of
    /// a second dropped. Dates that do not exist (February 30) and years outside 1000..9999 (what a
    /// DATETIME column holds) are nil.
    public init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Self.digits(bytes, range) }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] | 0x20 == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1000...9999).contains(year), (1...12).contains(month), (1...31).contains(day),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds: Int64 = 0
        if bytes[index] | 0x20 == UInt8(ascii: "z"), index + 1 == bytes.count {
            offsetSeconds = 0
        } else if bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"), index + 6 == bytes.count,
                  bytes[index + 3] == UInt8(ascii: ":"), let hours = number(index + 1..<index + 3),
                  let minutes = number(index + 4..<index + 6), hours <= 23, minutes <= 59 {
            offsetSeconds = Int64(hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        var broken = tm()
        broken.tm_year = year - 1900
        broken.tm_mon = month - 1
        broken.tm_mday = day
        broken.tm_hour = hour
        broken.tm_min = minute
        broken.tm_sec = second
        let local = Int64(timegm(&broken))
        // timegm normalises February 30 to March 2: a date that moved did not exist.
        guard broken.tm_mday == day, broken.tm_mon == month - 1 else { return nil }
        // 1000-01-01 00:00:00 ... 9999-12-31 23:59:59 UTC, also after the offset is applied.
        guard (-30_610_224_000...253_402_300_799).contains(local - offsetSeconds) else { return nil }
        secondsSinceEpoch = local - offsetSeconds
    }

    /// The decimal digits at `range` of `bytes` as a number; nil when one is not a digit or the
    /// range runs past the end.
    private static func digits(_ bytes: [UInt8], _ range: Range<Int>) -> Int32? {
        guard range.upperBound <= bytes.count else { return nil }
        var value: Int32 = 0
        for index in range {
            let byte = bytes[index]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int32(byte - 0x30)
        }
        return value
    }
}
