import Glibc

/// What the connection writes: the answer to a request, and the replies to records it does not serve.
extension FastCGIConnection {
    /// Sends `response` for the current request as STDOUT records, the empty STDOUT record and
    /// END_REQUEST, in one send when the socket takes it; false when the peer is gone.
    func send(_ response: FastCGIResponse) -> Bool {
        output.removeAll(keepingCapacity: true)
        output.append(contentsOf: repeatElement(0, count: FastCGIRecordHeader.size))
        response.serialize(into: &output)
        let length = output.count - FastCGIRecordHeader.size
        if length <= FastCGIRecordHeader.maxContent {
            let header = FastCGIRecordHeader(type: FastCGIRecordHeader.Kind.stdout, requestID: requestID, contentLength: length,
                                             paddingLength: FastCGIRecordHeader.padding(for: length))
            header.store(into: &output, at: 0)
            output.append(contentsOf: repeatElement(0, count: header.paddingLength))
        } else {
            reframeLargeOutput()
        }
        FastCGIRecordHeader(type: FastCGIRecordHeader.Kind.stdout, requestID: requestID, contentLength: 0).append(to: &output)
        FastCGIRecordHeader.appendEndRequest(id: requestID, status: FastCGIRecordHeader.ProtocolStatus.requestComplete, to: &output)
        let sent = output.withUnsafeBytes { bytes in
            let sent = transport.writeWithoutBlocking(bytes)
            if sent < 0 { return false }
            if sent == bytes.count { return true }
            onWriteWait()
            return transport.write(UnsafeRawBufferPointer(rebasing: bytes[sent...]))
        }
        if output.capacity > Self.retainedCapacity { output = [] }
        if parameterBytes.capacity > Self.retainedCapacity { parameterBytes = [] }
        return sent
    }

    /// A CGI response over 64 KiB: split into records of at most 65528 bytes (a multiple of 8).
    private func reframeLargeOutput() {
        let payload = Array(output[FastCGIRecordHeader.size...])
        output.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < payload.count {
            let count = min(FastCGIRecordHeader.maxContent & ~7, payload.count - offset)
            FastCGIRecordHeader.appendRecord(type: FastCGIRecordHeader.Kind.stdout, requestID: requestID,
                                             content: payload[offset..<(offset + count)], to: &output)
            offset += count
        }
    }

    /// A management record (request id 0) is answered; any other record outside a request is skipped.
    func handleStray(_ header: FastCGIRecordHeader) -> Bool {
        guard header.requestID == 0 else { return skip(header.contentLength + header.paddingLength) }
        guard header.type == FastCGIRecordHeader.Kind.getValues else {
            guard skip(header.contentLength + header.paddingLength) else { return false }
            var answer: [UInt8] = []
            FastCGIRecordHeader.appendRecord(type: FastCGIRecordHeader.Kind.unknownType, requestID: 0,
                                             content: [header.type, 0, 0, 0, 0, 0, 0, 0], to: &answer)
            return write(answer)
        }
        var asked: [UInt8] = []
        guard readContent(header.contentLength, padding: header.paddingLength, appendingTo: &asked) else { return false }
        var pairs: [UInt8] = []
        let decoded = asked.withUnsafeBytes { bytes in
            FastCGIPairs.decode(bytes) { name, _ in
                // The answers libfcgi gave: one connection, one request at a time, no multiplexing.
                switch String(decoding: name, as: UTF8.self) {
                case "FCGI_MAX_CONNS": FastCGIPairs.appendShort(name: "FCGI_MAX_CONNS", value: "1", to: &pairs)
                case "FCGI_MAX_REQS": FastCGIPairs.appendShort(name: "FCGI_MAX_REQS", value: "1", to: &pairs)
                case "FCGI_MPXS_CONNS": FastCGIPairs.appendShort(name: "FCGI_MPXS_CONNS", value: "0", to: &pairs)
                default: break
                }
            }
        }
        guard decoded else { return false }
        var answer: [UInt8] = []
        FastCGIRecordHeader.appendRecord(type: FastCGIRecordHeader.Kind.getValuesResult, requestID: 0, content: pairs, to: &answer)
        return write(answer)
    }

    /// Ends an aborted request; the connection carries on only if the web server keeps it.
    func endAborted() -> Bool {
        reply(endRequest: requestID, status: FastCGIRecordHeader.ProtocolStatus.requestComplete) && keepConnection
    }

    func reply(endRequest id: UInt16, status: UInt8) -> Bool {
        var answer: [UInt8] = []
        FastCGIRecordHeader.appendEndRequest(id: id, status: status, to: &answer)
        return write(answer)
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { transport.write($0) }
    }
}
