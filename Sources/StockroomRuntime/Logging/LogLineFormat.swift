import Glibc
import Logging

/// One log event as one line of text. Under journald (`journal`), the line starts with the syslog
/// priority in angle brackets, which journald strips and keeps as the entry's PRIORITY, and has no
/// timestamp, since journald stamps every entry itself. Otherwise it is logfmt with a UTC timestamp
/// in milliseconds. Either way: `level=`, `logger=` (the label), `msg="..."`, then the metadata
/// sorted by key, values quoted when they must be; newlines are escaped, so one event stays one line.
public struct LogLineFormat: Sendable {
    public var journal: Bool

    public init(journal: Bool) {
        self.journal = journal
    }

    /// `epochMilliseconds` is used only outside the journal.
    public func line(level: Logger.Level, label: String, message: String, metadata: [String: String],
                     epochMilliseconds: Int64) -> String {
        var line = ""
        line.reserveCapacity(96 + message.utf8.count)
        if journal {
            line += "<\(Self.priority(level))>"
        } else {
            line += "ts="
            line += Self.timestamp(epochMilliseconds: epochMilliseconds)
            line += " "
        }
        line += "level="
        line += level.rawValue
        line += " logger="
        Self.appendValue(label, to: &line)
        line += " msg="
        Self.appendQuoted(message, to: &line)
        for key in metadata.keys.sorted() {
            line += " "
            Self.appendKey(key, to: &line)
            line += "="
            Self.appendValue(metadata[key]!, to: &line)
        }
        line += "\n"
        return line
    }

    /// sd-daemon.h's SD_DEBUG ... SD_CRIT, which are syslog's priorities.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// `2026-12-06T02:12:59.123Z`.
    public static func timestamp(epochMilliseconds: Int64) -> String {
        var seconds = time_t(epochMilliseconds.floorDivided(by: 1000))
        let milliseconds = Int(epochMilliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return padded(Int(parts.tm_year) + 1900, 4) + "-" + padded(Int(parts.tm_mon) + 1, 2) + "-"
            + padded(Int(parts.tm_mday), 2) + "T" + padded(Int(parts.tm_hour), 2) + ":" + padded(Int(parts.tm_min), 2)
            + ":" + padded(Int(parts.tm_sec), 2) + "." + padded(milliseconds, 3) + "Z"
    }

    /// A duration in a message: whole seconds from 10 s up, tenths below.
    public static func seconds(_ seconds: Double) -> String {
        if seconds >= 9.95 { return String(Int(seconds.rounded())) }
        let tenths = Int((max(seconds, 0) * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// A value as it is when nothing in it could be misread (a space, a quote, `=`, a backslash, a
    /// control character), else quoted.
    static func appendValue(_ value: String, to line: inout String) {
        if !value.isEmpty && value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "\\") }) {
            line += value
        } else {
            appendQuoted(value, to: &line)
        }
    }

    /// In double quotes, with `\"`, `\\`, `\n`, `\r`, `\t` and `\u00XX` for other control characters.
    static func appendQuoted(_ value: String, to line: inout String) {
        line += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                line += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }

    /// Keys come from the code, but a key that would break the line is written with `_` instead of
    /// the characters that would.
    static func appendKey(_ key: String, to line: inout String) {
        guard !key.isEmpty else {
            line += "_"
            return
        }
        for scalar in key.unicodeScalars {
            let breaks = scalar.value <= 0x20 || scalar.value == 0x7F || scalar == "=" || scalar == "\"" || scalar == "\\"
            if breaks { line += "_" } else { line.unicodeScalars.append(scalar) }
        }
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
