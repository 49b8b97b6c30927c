import Logging
import MariaDB

/// Why a program would not start (or a reload was refused): every bad value at once, each naming
/// its variable.
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}

/// Reads settings from one environment dictionary with the same rules for every value: unset or
/// empty means the default, anything else must parse and lie in its range, or it is a problem.
/// Problems are collected so that one start names every bad variable; `finish()` throws them.
public struct SettingsReader {
    private let environment: [String: String]
    private var problems: [String] = []

    public init(environment: [String: String]) {
        self.environment = environment
    }

    private func given(_ setting: Setting) -> String? {
        guard let text = environment[setting.name], !text.isEmpty else { return nil }
        return text
    }

    private mutating func refuse(_ setting: Setting, _ text: String, _ expected: String) {
        let shown = setting.isSecret ? "" : ", got \"\(text.prefix(64))\""
        problems.append("\(setting.name) must be \(expected)\(shown)")
    }

    public mutating func text(_ setting: Setting) -> String {
        given(setting) ?? setting.defaultText
    }

    /// nil when unset or empty (the setting has no default).
    public mutating func optionalText(_ setting: Setting) -> String? {
        given(setting)
    }

    public mutating func integer(_ setting: Setting, in range: ClosedRange<Int>) -> Int {
        let fallback = Int(setting.defaultText)!
        guard let text = given(setting) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            refuse(setting, text, "a whole number from \(range.lowerBound) to \(range.upperBound)")
            return fallback
        }
        return value
    }

    public mutating func seconds(_ setting: Setting, in range: ClosedRange<Double>) -> Double {
        let fallback = Double(setting.defaultText)!
        guard let text = given(setting) else { return fallback }
        // Plain decimals only: Double() would also take "inf", "nan" and hex.
        guard text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), let value = Double(text),
              range.contains(value) else {
            refuse(setting, text, "seconds from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
            return fallback
        }
        return value
    }

    /// A decimal with at most two decimals, as hundredths (`7.25` is 725), within `range` (also in
    /// hundredths); nil when unset and the setting has no default.
    public mutating func hundredths(_ setting: Setting, in range: ClosedRange<Int64>, expected: String) -> Int64? {
        let fallback = Self.hundredths(setting.defaultText)
        guard let text = given(setting) else { return fallback }
        guard let value = Self.hundredths(text), range.contains(value) else {
            refuse(setting, text, expected)
            return fallback
        }
        return value
    }

    /// `12`, `12.5`, `12.50`: digits, then at most two decimals; no sign, no exponent.
    static func hundredths(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 12, whole.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return nil
        }
        var fraction = parts.count == 2 ? String(parts[1]) : "0"
        guard !fraction.isEmpty, fraction.count <= 2, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        if fraction.count == 1 { fraction += "0" }
        guard let wholeValue = Int64(whole), let fractionValue = Int64(fraction) else { return nil }
        return wholeValue * 100 + fractionValue
    }

    /// `host:port,host:port,...` (`[v6addr]:port` for IPv6; a missing port is `defaultPort`), 1 to
    /// 16 distinct entries; nil when unset.
    public mutating func endpoints(_ setting: Setting, defaultPort: UInt32) -> [MariaDBEndpoint]? {
        guard let text = given(setting) else { return nil }
        let expected = "1 to 16 distinct host:port entries separated by commas"
        var endpoints: [MariaDBEndpoint] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let endpoint = Self.endpoint(entry.trimmingSpaces, defaultPort: defaultPort), !endpoints.contains(endpoint) else {
                refuse(setting, text, expected)
                return nil
            }
            endpoints.append(endpoint)
        }
        guard (1...16).contains(endpoints.count) else {
            refuse(setting, text, expected)
            return nil
        }
        return endpoints
    }

    static func endpoint(_ text: Substring, defaultPort: UInt32) -> MariaDBEndpoint? {
        var host = text
        var portText: Substring?
        if host.first == "[" {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.first == ":" else { return nil }
                portText = rest.dropFirst()
            }
        } else if let colon = host.firstIndex(of: ":") {
            portText = host[host.index(after: colon)...]
            host = host[..<colon]
        }
        let hostAllowed = host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-._:".contains($0)) }
        guard !host.isEmpty, host.count <= 255, hostAllowed else { return nil }
        guard let portText else { return MariaDBEndpoint(host: String(host), port: defaultPort) }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt32(portText), (1...65535).contains(port) else {
            return nil
        }
        return MariaDBEndpoint(host: String(host), port: port)
    }

    /// A loopback address with a port (`LoopbackAddress`); nil when unset.
    public mutating func loopbackAddress(_ setting: Setting) -> LoopbackAddress? {
        guard let text = given(setting) else { return nil }
        guard let address = LoopbackAddress(text) else {
            refuse(setting, text, "a loopback address with a port, such as 127.0.0.1:9465 or [::1]:9465")
            return nil
        }
        return address
    }

    /// The database password from where `DatabasePassword.source` says; a password file that cannot
    /// be read is a problem naming the file.
    public mutating func databasePassword() -> String {
        let source = DatabasePassword.source(in: environment)
        switch source {
        case .file(let path), .credential(let path):
            do {
                return try DatabasePassword.read(path: path)
            } catch {
                problems.append("the database password from \(source): \(error)")
                return ""
            }
        case .environment:
            return text(.databasePassword)
        case .none:
            return ""
        }
    }

    public mutating func flag(_ setting: Setting) -> Bool {
        let fallback = setting.defaultText == "1"
        guard let text = given(setting) else { return fallback }
        switch text {
        case "1": return true
        case "0": return false
        default:
            refuse(setting, text, "0 or 1")
            return fallback
        }
    }

    public mutating func logLevel(_ setting: Setting) -> Logger.Level {
        let fallback = Logger.Level(rawValue: setting.defaultText)!
        guard let text = given(setting) else { return fallback }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            refuse(setting, text, "one of trace, debug, info, notice, warning, error, critical")
            return fallback
        }
        return level
    }

    /// A value given another way (a command-line flag), checked by the same rule.
    public mutating func check(_ value: Int, flag: String, in range: ClosedRange<Int>) -> Int {
        guard range.contains(value) else {
            problems.append("\(flag) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(value)")
            return value
        }
        return value
    }

    public func finish() throws {
        if !problems.isEmpty { throw SettingsError(problems: problems) }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        guard let first = firstIndex(where: { $0 != " " }), let last = lastIndex(where: { $0 != " " }) else { return "" }
        return self[first...last]
    }
}
