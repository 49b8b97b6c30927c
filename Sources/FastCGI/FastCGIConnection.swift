import Glibc

/// One FastCGI connection as a responder thread serves it: records read through one buffer that the
/// thread keeps for its life (libfcgi allocated and freed three streams, 16 KiB, and every parameter
/// per request), and each response written as one send: STDOUT, its closing record and END_REQUEST.
/// One request at a time (FCGI_MPXS_CONNS 0); management records are answered on the way.
final class FastCGIConnection<Transport: FastCGITransport> {
    enum Outcome {
        case request(FastCGIRequest)
        /// End of stream, a read error or interrupt, or a protocol violation: close the connection.
        case closed
    }

    /// What the thread's buffers keep between requests: one larger answer or a crafted peer's
    /// parameters do not hold their memory for the thread's life.
    static var retainedCapacity: Int { 64 * 1024 }

    /// The most PARAMS bytes one request may carry: nginx sends a few KiB (client headers are capped
    /// at 4 x 8 KiB by default), so a peer that streams more is not a web server to wait for.
    static var maxParameterBytes: Int { 256 * 1024 }

    private(set) var transport: Transport
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var parameterBytes: [UInt8] = []
    private var output: [UInt8] = []
    private var requestID: UInt16 = 0
    /// The request's FCGI_KEEP_CONN, cleared when its STDIN failed part-way.
    private(set) var keepConnection = false
    private var inRequest = false
    private var waitedWithinRequest = false
    /// Called at most once per request, when the rest of its records has to be waited for.
    var onReadWait: () -> Void = {}
    /// Called when a response does not fit in the socket at once and the send will block.
    var onWriteWait: () -> Void = {}

    init(transport: Transport, bufferSize: Int = 16 * 1024) {
        self.transport = transport
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bufferSize, 64), alignment: 8)
        output.reserveCapacity(bufferSize)
    }

    deinit { buffer.deallocate() }

    /// A new connection: nothing of the previous one stays buffered.
    func reset(transport: Transport) {
        self.transport = transport
        start = 0
        end = 0
    }

    /// Reads the next request whole: BEGIN_REQUEST, the PARAMS stream (only `wanted` names kept,
    /// all when nil) and the STDIN stream, of which exactly CONTENT_LENGTH bytes are kept, the rest
    /// drained; a CONTENT_LENGTH over `maxBodyBytes` is never allocated.
    func nextRequest(maxBodyBytes: Int, wanted: FastCGIParameterNames?) -> Outcome {
        while true {
            inRequest = false
            waitedWithinRequest = false
            guard awaitBegin() else { return .closed }
            inRequest = true
            switch readParameters(wanted: wanted) {
            case .failed: return .closed
            case .aborted:
                guard endAborted() else { return .closed }
                continue
            case .read(let parameters):
                switch readBody(parameters: parameters, maxBodyBytes: maxBodyBytes) {
                case .failed: return .closed
                case .aborted:
                    guard endAborted() else { return .closed }
                    continue
                case .read(let request): return .request(request)
                }
            }
        }
    }

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
            var bytes: [UInt8] = []
            header.append(to: &bytes)
            output.replaceSubrange(0..<FastCGIRecordHeader.size, with: bytes)
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
            let header = FastCGIRecordHeader(type: FastCGIRecordHeader.Kind.stdout, requestID: requestID, contentLength: count,
                                             paddingLength: FastCGIRecordHeader.padding(for: count))
            header.append(to: &output)
            output.append(contentsOf: payload[offset..<(offset + count)])
            output.append(contentsOf: repeatElement(0, count: header.paddingLength))
            offset += count
        }
    }

    // MARK: - The request's records

    private enum Step<Value> {
        case read(Value)
        /// FCGI_ABORT_REQUEST for the request before it was handed over.
        case aborted
        case failed
    }

    /// Waits for FCGI_BEGIN_REQUEST of a responder, answering management records meanwhile and
    /// skipping records of requests that are over.
    private func awaitBegin() -> Bool {
        while true {
            guard let header = readHeader(), header.version == 1 else { return false }
            if header.type == FastCGIRecordHeader.Kind.beginRequest {
                guard header.requestID != 0, header.contentLength == 8 else { return false }
                var body: [UInt8] = []
                guard readContent(8, padding: header.paddingLength, { chunk, count in
                    body.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
                }) else { return false }
                let role = Int(body[0]) << 8 | Int(body[1])
                guard role == FastCGIRecordHeader.responderRole else {
                    guard reply(endRequest: header.requestID, status: FastCGIRecordHeader.ProtocolStatus.unknownRole) else { return false }
                    continue
                }
                requestID = header.requestID
                keepConnection = body[2] & FastCGIRecordHeader.keepConnectionFlag != 0
                return true
            }
            guard handleStray(header) else { return false }
        }
    }

    private func readParameters(wanted: FastCGIParameterNames?) -> Step<[String: String]> {
        parameterBytes.removeAll(keepingCapacity: true)
        while true {
            let header: FastCGIRecordHeader
            switch nextRecordOfRequest() {
            case .read(let next): header = next
            case .aborted: return .aborted
            case .failed: return .failed
            }
            guard header.type == FastCGIRecordHeader.Kind.params else { return .failed }
            if header.contentLength == 0 { break }
            guard parameterBytes.count + header.contentLength <= Self.maxParameterBytes,
                  readContent(header.contentLength, padding: header.paddingLength, { chunk, count in
                      parameterBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
                  }) else { return .failed }
        }
        var parameters: [String: String] = [:]
        parameters.reserveCapacity(16)
        let decoded = parameterBytes.withUnsafeBytes { bytes in
            FastCGIPairs.decode(bytes) { name, value in
                if let wanted {
                    guard let known = wanted.match(name) else { return }
                    parameters[known] = String(decoding: value, as: UTF8.self)
                } else {
                    parameters[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self)
                }
            }
        }
        return decoded ? .read(parameters) : .failed
    }

    /// The STDIN stream to its end. When it breaks off (end of stream, an interrupt, a record of
    /// another kind) the request is still handed over, as far as it came, and the connection closes after it.
    private func readBody(parameters: [String: String], maxBodyBytes: Int) -> Step<FastCGIRequest> {
        let declared = parameters["CONTENT_LENGTH"].flatMap { Int($0) } ?? 0
        var request = FastCGIRequest(parameters: parameters, body: [])
        let tooLarge = declared < 0 || declared > maxBodyBytes
        var body = [UInt8](repeating: 0, count: tooLarge ? 0 : declared)
        var filled = 0
        var ended = false
        while !ended {
            let step = nextRecordOfRequest()
            switch step {
            case .aborted: return .aborted
            case .failed:
                keepConnection = false
                ended = true
            case .read(let header):
                guard header.type == FastCGIRecordHeader.Kind.stdin else {
                    keepConnection = false
                    ended = true
                    break
                }
                if header.contentLength == 0 {
                    ended = true
                    break
                }
                let complete = readContent(header.contentLength, padding: header.paddingLength) { chunk, count in
                    // Bytes past CONTENT_LENGTH are not part of the request: read and dropped.
                    let taken = min(count, body.count - filled)
                    guard taken > 0 else { return }
                    body.withUnsafeMutableBytes { target in
                        target.baseAddress!.advanced(by: filled).copyMemory(from: chunk.baseAddress!, byteCount: taken)
                    }
                    filled += taken
                }
                if !complete {
                    keepConnection = false
                    ended = true
                }
            }
        }
        if tooLarge {
            request.bodyStatus = .tooLarge
        } else if filled < declared {
            request.bodyStatus = .incomplete
            body.removeLast(declared - filled)
        }
        request.body = body
        return .read(request)
    }

    /// The next record of the current request; others are dealt with here: management records
    /// answered, a second BEGIN_REQUEST refused (no multiplexing), records of other ids skipped.
    private func nextRecordOfRequest() -> Step<FastCGIRecordHeader> {
        while true {
            guard let header = readHeader(), header.version == 1 else { return .failed }
            if header.type == FastCGIRecordHeader.Kind.beginRequest {
                guard header.requestID != 0, header.contentLength == 8,
                      skip(header.contentLength + header.paddingLength),
                      reply(endRequest: header.requestID, status: FastCGIRecordHeader.ProtocolStatus.cantMultiplex) else { return .failed }
                continue
            }
            if header.requestID != requestID {
                guard handleStray(header) else { return .failed }
                continue
            }
            if header.type == FastCGIRecordHeader.Kind.abortRequest {
                guard skip(header.contentLength + header.paddingLength) else { return .failed }
                return .aborted
            }
            return .read(header)
        }
    }

    /// A management record (request id 0) is answered; any other record outside a request is skipped.
    private func handleStray(_ header: FastCGIRecordHeader) -> Bool {
        guard header.requestID == 0 else { return skip(header.contentLength + header.paddingLength) }
        guard header.type == FastCGIRecordHeader.Kind.getValues else {
            guard skip(header.contentLength + header.paddingLength) else { return false }
            var answer: [UInt8] = []
            FastCGIRecordHeader(type: FastCGIRecordHeader.Kind.unknownType, requestID: 0, contentLength: 8).append(to: &answer)
            answer.append(contentsOf: [header.type, 0, 0, 0, 0, 0, 0, 0])
            return write(answer)
        }
        var asked: [UInt8] = []
        guard readContent(header.contentLength, padding: header.paddingLength, { chunk, count in
            asked.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }) else { return false }
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
        FastCGIRecordHeader(type: FastCGIRecordHeader.Kind.getValuesResult, requestID: 0, contentLength: pairs.count,
                            paddingLength: FastCGIRecordHeader.padding(for: pairs.count)).append(to: &answer)
        answer.append(contentsOf: pairs)
        answer.append(contentsOf: repeatElement(0, count: FastCGIRecordHeader.padding(for: pairs.count)))
        return write(answer)
    }

    /// Ends an aborted request; the connection carries on only if the web server keeps it.
    private func endAborted() -> Bool {
        reply(endRequest: requestID, status: FastCGIRecordHeader.ProtocolStatus.requestComplete) && keepConnection
    }

    private func reply(endRequest id: UInt16, status: UInt8) -> Bool {
        var answer: [UInt8] = []
        FastCGIRecordHeader.appendEndRequest(id: id, status: status, to: &answer)
        return write(answer)
    }

    private func write(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { transport.write($0) }
    }

    // MARK: - The buffer

    private func readHeader() -> FastCGIRecordHeader? {
        guard fill(atLeast: FastCGIRecordHeader.size) else { return nil }
        let header = FastCGIRecordHeader(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + FastCGIRecordHeader.size)]))
        start += FastCGIRecordHeader.size
        return header
    }

    /// Passes the next `length` bytes to `consume` as they arrive (a pointer and a count), then
    /// drops `padding` bytes.
    private func readContent(_ length: Int, padding: Int, _ consume: (UnsafeRawBufferPointer, Int) -> Void) -> Bool {
        var left = length
        while left > 0 {
            guard fill(atLeast: 1) else { return false }
            let count = min(left, end - start)
            consume(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count)]), count)
            start += count
            left -= count
        }
        return skip(padding)
    }

    private func skip(_ count: Int) -> Bool {
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
