import Glibc

/// The read buffer: records are parsed where they lie, and refilled with one read() when short.
extension FastCGIConnection {
    func readHeader() -> FastCGIRecordHeader? {
        guard fill(atLeast: FastCGIRecordHeader.size) else { return nil }
        let header = FastCGIRecordHeader(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + FastCGIRecordHeader.size)]))
        start += FastCGIRecordHeader.size
        return header
    }

    /// Passes the next `length` bytes to `consume` as they arrive, chunk by chunk, then drops
    /// `padding` bytes.
    func readContent(_ length: Int, padding: Int, _ consume: (UnsafeRawBufferPointer) -> Void) -> Bool {
        var left = length
        while left > 0 {
            guard fill(atLeast: 1) else { return false }
            let count = min(left, end - start)
            consume(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)]))
            start += count
            left -= count
        }
        return skip(padding)
    }

    /// The next `length` bytes appended to `bytes`, then `padding` bytes dropped.
    func readContent(_ length: Int, padding: Int, appendingTo bytes: inout [UInt8]) -> Bool {
        readContent(length, padding: padding) { bytes.append(contentsOf: $0) }
    }

    func skip(_ count: Int) -> Bool {
        var left = count
        while left > 0 {
            guard fill(atLeast: 1) else { return false }
            let step = min(left, end - start)
            start += step
            left -= step
        }
        return true
    }

    /// At least `count` bytes buffered (`count` is at most a header); false at end of stream or on an error.
    private func fill(atLeast count: Int) -> Bool {
        while end - start < count {
            if start == end {
                start = 0
                end = 0
            } else if buffer.count - start < count {
                let kept = end - start
                memmove(buffer.baseAddress!, buffer.baseAddress! + start, kept)
                start = 0
                end = kept
            }
            if inRequest && !waitedWithinRequest {
                waitedWithinRequest = true
                onReadWait()
            }
            let got = transport.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if got <= 0 { return false }
            end += got
        }
        return true
    }
}
