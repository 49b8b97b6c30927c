import Glibc

/// Messages for the operator before logging is set up (bad settings): one write(2) to fd 2, since
/// Swift 6 does not let code touch C's global `stderr` stream.
public enum StandardError {
    public static func write(_ message: String) {
        var bytes = Array(message.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}
