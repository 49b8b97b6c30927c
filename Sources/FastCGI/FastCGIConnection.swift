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

    var transport: Transport
    let buffer: UnsafeMutableRawBufferPointer
    var start = 0
    var end = 0
    var parameterBytes: [UInt8] = []
    var output: [UInt8] = []
    var requestID: UInt16 = 0
    /// The request's FCGI_KEEP_CONN, cleared when its STDIN failed part-way.
    private(set) var keepConnection = false
    var inRequest = false
    var waitedWithinRequest = false
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

    // MARK: - The request's records

    enum Step<Value> {
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
                guard readContent(8, padding: header.paddingLength, appendingTo: &body) else { return false }
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
                  readContent(header.contentLength, padding: header.paddingLength, appendingTo: &parameterBytes) else { return .failed }
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
                let complete = readContent(header.contentLength, padding: header.paddingLength) { chunk in
                    // Bytes past CONTENT_LENGTH are not part of the request: read and dropped.
                    let taken = min(chunk.count, body.count - filled)
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
}
