import Glibc

/// The sd_notify protocol (a datagram to $NOTIFY_SOCKET), so units can be Type=notify with a
/// watchdog without linking libsystemd. Does nothing when not started by systemd.
public struct SystemdNotifier: Sendable {
    private let socketPath: String?
    /// Half the watchdog period systemd asked for (WATCHDOG_USEC), if it asked this process.
    public let watchdogPingInterval: Double?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogPingInterval = Double(usec) / 2_000_000
        } else {
            watchdogPingInterval = nil
        }
    }

    public var isEnabled: Bool { socketPath != nil }

    /// Sends e.g. "READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=...".
    public func notify(_ state: String) {
        guard let socketPath else { return }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        // A leading '@' names an abstract socket: its first byte is NUL.
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length) }
            }
        }
    }
}
