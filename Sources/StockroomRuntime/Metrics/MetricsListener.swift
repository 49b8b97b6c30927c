import Foundation
import Glibc
import Logging

/// A loopback HTTP endpoint for one process's metrics (`GET /metrics`), for a daemon that serves
/// no HTTP of its own (the worker). One thread answers one connection at a time and closes it:
/// Prometheus scrapes rarely, and a client that stalls is cut off after `Self.ioTimeoutSeconds`.
public final class MetricsListener: Sendable {
    public struct OpenError: Error, CustomStringConvertible {
        public let description: String
    }

    static let ioTimeoutSeconds = 2
    static let maxRequestBytes = 8192

    private let fileDescriptor: Int32
    private let exposition: MetricsExposition
    private let logger: Logger
    private let finished = DispatchSemaphore(value: 0)
    /// The address bound, with the port the kernel chose when port 0 was asked for.
    public let boundAddress: LoopbackAddress

    public init(address: LoopbackAddress, exposition: MetricsExposition, logger: Logger) throws {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw OpenError(description: "socket(): \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length = address.write(into: &storage)
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw OpenError(description: "cannot listen on \(address): \(message)")
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        self.fileDescriptor = fd
        self.exposition = exposition
        self.logger = logger
        self.boundAddress = LoopbackAddress(host: address.host, port: LoopbackAddress.port(of: actual) ?? address.port)
    }

    public func start() {
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        thread.name = "metrics-listener"
        thread.start()
    }

    /// Wakes the thread from accept() and waits for it to end.
    public func stop() {
        shutdown(fileDescriptor, Int32(SHUT_RDWR))
        finished.wait()
    }

    deinit {
        close(fileDescriptor)
    }

    private func serve() {
        while true {
            let connection = accept(fileDescriptor, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EINVAL: stop() shut the socket down
            }
            var timeout = timeval(tv_sec: Self.ioTimeoutSeconds, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if let head = readHead(connection) {
                send(MetricsRequest.answer(toHead: head, metrics: { exposition.text() }), to: connection)
            }
            close(connection)
        }
    }

    /// The request line and headers, up to the blank line; nil when the client sent none in time.
    private func readHead(_ connection: Int32) -> [UInt8]? {
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while head.count < Self.maxRequestBytes {
            let got = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return head.isEmpty ? nil : head }
            head += chunk[..<got]
            if MetricsRequest.hasEndOfHead(head) { return head }
        }
        return head
    }

    private func send(_ bytes: [UInt8], to connection: Int32) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }
}
