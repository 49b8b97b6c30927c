import Glibc

/// The byte stream under a FastCGI connection: an accepted socket, or a test's bytes.
protocol FastCGITransport {
    /// Reads what is there (blocking until something is): the count, 0 at end of stream, -1 on an
    /// error, an interrupt included (the idle monitor's signal ends a wait on a silent peer).
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int
    /// Writes as much as the socket takes without blocking: the count, or -1 when the peer is gone.
    mutating func writeWithoutBlocking(_ bytes: UnsafeRawBufferPointer) -> Int
    /// Writes all of `bytes`, blocking; false when the peer is gone or the write was interrupted.
    mutating func write(_ bytes: UnsafeRawBufferPointer) -> Bool
}

/// An accepted unix socket. Sends with MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE.
struct FastCGISocket: FastCGITransport {
    var fileDescriptor: Int32

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        Glibc.read(fileDescriptor, buffer.baseAddress, buffer.count)
    }

    func writeWithoutBlocking(_ bytes: UnsafeRawBufferPointer) -> Int {
        let sent = send(fileDescriptor, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        if sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return 0 }
        return sent
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = send(fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }
}
