import Foundation
import Glibc

/// The settings file named by STOCKROOM_ENV_FILE, read at start and at every reload; its values win
/// over the inherited environment. The syntax is what systemd's EnvironmentFile= and a POSIX shell
/// read alike: `NAME=value` lines, blank lines, `#` or `;` comment lines, an optional leading
/// `export `, values plain (a backslash escapes the next character, as `printf %q` writes them) or
/// in single or double quotes. Anything the two would read differently (text after the value, `$`
/// or a backquote outside single quotes, a continued line) is an error rather than a guess.
public enum EnvironmentFile {
    public static let variable = "STOCKROOM_ENV_FILE"
    static let maximumBytes = 1 << 20

    /// Says where, never what: a value may be a password.
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var path: String?
        public var line: Int?
        public var reason: String

        public var description: String {
            let place = [path, line.map { "line \($0)" }].compactMap { $0 }
            return place.isEmpty ? reason : place.joined(separator: ", ") + ": " + reason
        }
    }

    /// `inherited` with the values of the file that its STOCKROOM_ENV_FILE names on top (the file
    /// cannot name another one); `inherited` itself when the variable is unset or empty.
    public static func environment(over inherited: [String: String]) throws -> [String: String] {
        guard let path = inherited[variable], !path.isEmpty else { return inherited }
        var values = try read(path: path)
        values[variable] = path
        return inherited.merging(values) { _, fromFile in fromFile }
    }

    /// A daemon's start: this process's environment with its STOCKROOM_ENV_FILE on top, or a
    /// message on stderr and exit status 1 when that file cannot be read.
    public static func startEnvironment(program: String) -> (inherited: [String: String], environment: [String: String]) {
        let inherited = ProcessInfo.processInfo.environment
        do {
            return (inherited, try environment(over: inherited))
        } catch {
            StandardError.write("\(program): cannot read the settings: \(error)")
            exit(1)
        }
    }

    public static func read(path: String) throws -> [String: String] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Error(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw Error(path: path, reason: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            bytes += chunk[..<got]
            guard bytes.count <= maximumBytes else { throw Error(path: path, reason: "larger than 1 MiB") }
        }
        do {
            return try parse(bytes)
        } catch var error as Error {
            error.path = path
            throw error
        }
    }

    public static func parse(_ text: String) throws -> [String: String] {
        try parse(Array(text.utf8))
    }

    static func parse(_ bytes: [UInt8]) throws -> [String: String] {
        var values: [String: String] = [:]
        for (number, line) in bytes.split(separator: newline, omittingEmptySubsequences: false).enumerated() {
            do {
                if let (name, value) = try assignment(in: line) { values[name] = value }
            } catch let error as Error {
                throw Error(line: number + 1, reason: error.reason)
            }
        }
        return values
    }

    private static let newline = UInt8(ascii: "\n")
    private static let backslash = UInt8(ascii: "\\")
    private static let singleQuote = UInt8(ascii: "'")
    private static let doubleQuote = UInt8(ascii: "\"")

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    private static func isNameByte(_ byte: UInt8, first: Bool) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"): return true
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return !first
        default: return false
        }
    }

    /// The name and value of one line; nil for a blank or comment line.
    private static func assignment(in line: ArraySlice<UInt8>) throws -> (String, String)? {
        var rest = line.drop(while: isBlank)
        guard let first = rest.first, first != UInt8(ascii: "#"), first != UInt8(ascii: ";") else { return nil }
        let export = Array("export".utf8)
        if rest.starts(with: export), let after = rest.dropFirst(export.count).first, isBlank(after) {
            rest = rest.dropFirst(export.count).drop(while: isBlank)
        }
        guard let equals = rest.firstIndex(of: UInt8(ascii: "=")), equals > rest.startIndex,
              rest[..<equals].enumerated().allSatisfy({ isNameByte($0.element, first: $0.offset == 0) }) else {
            throw Error(reason: "expected NAME=value (a letter or _ first, no spaces around =)")
        }
        let name = String(decoding: rest[..<equals], as: UTF8.self)
        return (name, try value(rest[(equals + 1)...]))
    }

    private static func value(_ text: ArraySlice<UInt8>) throws -> String {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            switch byte {
            case singleQuote:
                guard let close = text[(index + 1)...].firstIndex(of: singleQuote) else {
                    throw Error(reason: "unterminated single quote")
                }
                out += text[(index + 1)..<close]
                index = close + 1
            case doubleQuote:
                index += 1
                while true {
                    guard index < text.endIndex else { throw Error(reason: "unterminated double quote") }
                    let inner = text[index]
                    if inner == doubleQuote { break }
                    if inner == UInt8(ascii: "$") || inner == UInt8(ascii: "`") {
                        throw Error(reason: "unescaped $ or ` in double quotes (no expansion here; use single quotes)")
                    }
                    if inner == backslash, index + 1 < text.endIndex, "\"\\$`".utf8.contains(text[index + 1]) {
                        index += 1
                    } else if inner == backslash && index + 1 == text.endIndex {
                        throw Error(reason: "a value continued on the next line is not supported")
                    }
                    out.append(text[index])
                    index += 1
                }
                index += 1
            case backslash:
                let continued = index + 1 == text.endIndex
                    || (index + 2 == text.endIndex && text[index + 1] == UInt8(ascii: "\r"))
                guard !continued else {
                    throw Error(reason: "a value continued on the next line is not supported")
                }
                out.append(text[index + 1])
                index += 2
            case _ where isBlank(byte):
                guard text[index...].allSatisfy(isBlank) else {
                    throw Error(reason: "text after the value (quote a value with spaces; comments go on their own line)")
                }
                index = text.endIndex
            case UInt8(ascii: "$"), UInt8(ascii: "`"):
                throw Error(reason: "unquoted $ or ` (no expansion here; use single quotes)")
            case UInt8(ascii: ";"), UInt8(ascii: "&"), UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"),
                 UInt8(ascii: "("), UInt8(ascii: ")"):
                throw Error(reason: "unquoted shell operator in the value (quote it)")
            default:
                out.append(byte)
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
