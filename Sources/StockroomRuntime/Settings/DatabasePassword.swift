import Glibc

/// Where the MariaDB password comes from, first match wins: the file STOCKROOM_DB_PASSWORD_FILE
/// names; the systemd credential `db-password` (`LoadCredential=` copies it into
/// $CREDENTIALS_DIRECTORY, readable by the service alone, so the password stays out of the
/// environment, which systemd does not treat as secret); STOCKROOM_DB_PASSWORD.
public enum DatabasePassword {
    public static let credentialName = "db-password"
    public static let credentialsDirectoryVariable = "CREDENTIALS_DIRECTORY"
    static let maximumBytes = 4096

    public enum Source: Equatable, Sendable, CustomStringConvertible {
        case file(path: String)
        case credential(path: String)
        case environment
        case none

        public var description: String {
            switch self {
            case .file(let path): "\(Setting.databasePasswordFile.name)=\(path)"
            case .credential(let path): "the systemd credential \(credentialName) at \(path)"
            case .environment: Setting.databasePassword.name
            case .none: "none set"
            }
        }
    }

    public static func source(in environment: [String: String]) -> Source {
        if let path = environment[Setting.databasePasswordFile.name], !path.isEmpty { return .file(path: path) }
        if let directory = environment[credentialsDirectoryVariable], !directory.isEmpty {
            let path = directory.hasSuffix("/") ? directory + credentialName : directory + "/" + credentialName
            var status = stat()
            // Present means used: an unreadable credential is an error, not a reason to fall back.
            if lstat(path, &status) == 0 { return .credential(path: path) }
        }
        if let password = environment[Setting.databasePassword.name], !password.isEmpty { return .environment }
        return .none
    }

    /// Says which file and why, never what is in it.
    public struct ReadError: Error, CustomStringConvertible, Equatable {
        public var reason: String
        public var description: String { reason }
    }

    /// The file's one line: a final newline (`\n` or `\r\n`) is dropped, as `echo` and editors add one.
    public static func read(path: String) throws(ReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: "cannot read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            bytes += chunk[..<got]
            guard bytes.count <= maximumBytes else { throw ReadError(reason: "larger than \(maximumBytes) bytes") }
        }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard !bytes.isEmpty else { throw ReadError(reason: "empty") }
        guard !bytes.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") || $0 == 0 }) else {
            throw ReadError(reason: "more than one line (or a NUL byte): the password is the whole of one line")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ReadError(reason: "not UTF-8 text") }
        return text
    }
}
