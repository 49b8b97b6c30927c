import CFastCGI
import Glibc

/// The listening unix socket. The file is born with mode 0660 (umask around bind), so no client
/// outside the owner and group can ever connect, and it is never a TCP port.
public final class FastCGIListener: Sendable {
    public let path: String
    public let fileDescriptor: Int32

    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String, group: String? = nil, backlog: Int32 = 1024) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw OpenError(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw OpenError(description: "socket(): \(String(cString: strerror(errno)))") }
        unlink(path)  // a stale socket from a killed predecessor
        let previousMask = umask(0o117)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previousMask)
        guard bound == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw OpenError(description: "bind(\(path)): \(message)")
        }
        chmod(path, 0o660)
        if let group {
            var gid: gid_t = 0
            guard stockroom_group_id(group, &gid) == 0, chown(path, uid_t.max, gid) == 0 else {
                close(fd)
                unlink(path)
                throw OpenError(description: "cannot give \(path) to group \(group)")
            }
        }
        guard listen(fd, backlog) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            unlink(path)
            throw OpenError(description: "listen(\(path)): \(message)")
        }
        self.path = path
        self.fileDescriptor = fd
    }

    /// First step of a stop: remove the socket's name, so new connects fail at once (nginx then
    /// tries another responder, safely even for a POST) while connections already queued are served.
    public func stopListening() {
        unlink(path)
    }

    /// Whether connections are waiting in the listen backlog.
    public var hasPendingConnections: Bool {
        var entry = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents & Int16(POLLIN) != 0
    }

    /// The listen backlog now: connections waiting for a thread to accept them, and the most the
    /// kernel queues (the `listen()` backlog capped by `net.core.somaxconn`). Nil where Linux will
    /// not tell (no netlink socket allowed).
    public var listenQueue: (queued: Int, limit: Int)? {
        var queued: UInt32 = 0
        var limit: UInt32 = 0
        guard stockroom_listen_queue(fileDescriptor, &queued, &limit) == 0 else { return nil }
        return (Int(queued), Int(limit))
    }

    /// Wakes every thread blocked in accept() and makes further accepts fail: for the final stop
    /// only. A reload keeps this socket for the threads it moves to the new settings.
    public func stopAccepting() {
        shutdown(fileDescriptor, Int32(SHUT_RDWR))
        unlink(path)
    }

    deinit {
        close(fileDescriptor)
    }
}
