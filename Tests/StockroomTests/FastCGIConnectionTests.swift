import Testing
@testable import FastCGI

/// FastCGIConnection driven with crafted records, without a socket: what nginx sends, records split
/// anywhere, management records, multiplexing, aborts, truncation and forged lengths.
@Suite struct FastCGIConnectionTests {
    /// Hands out `input` in pieces of at most `chunk` bytes; collects what is written.
    struct ScriptedTransport: FastCGITransport {
        var input: [UInt8]
        var chunk = Int.max
        var offset = 0
        var output: [UInt8] = []
        var writes = 0
        /// Bytes a non-blocking send takes before the socket would block.
        var socketRoom = Int.max

        mutating func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
            let count = min(chunk, buffer.count, input.count - offset)
            guard count > 0 else { return 0 }
            input.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: count) }
            offset += count
            return count
        }

        mutating func writeWithoutBlocking(_ bytes: UnsafeRawBufferPointer) -> Int {
            let count = min(bytes.count, socketRoom)
            output += bytes[0..<count]
            writes += 1
            return count
        }

        mutating func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
            output += bytes
            writes += 1
            return true
        }
    }

    typealias Connection = FastCGIConnection<ScriptedTransport>

    static let wanted = FastCGIParameterNames(["REQUEST_METHOD", "REQUEST_URI", "CONTENT_LENGTH", "CONTENT_TYPE"])

    // MARK: - Records, as the test kit's Python client builds them

    static func record(_ type: UInt8, _ id: UInt16, _ content: [UInt8] = [], padding: Int? = nil, version: UInt8 = 1) -> [UInt8] {
        let pad = padding ?? FastCGIRecordHeader.padding(for: content.count)
        var bytes: [UInt8] = []
        FastCGIRecordHeader(version: version, type: type, requestID: id, contentLength: content.count, paddingLength: pad).append(to: &bytes)
        return bytes + content + [UInt8](repeating: 0, count: pad)
    }

    static func length(_ count: Int) -> [UInt8] {
        count < 0x80 ? [UInt8(count)] : [UInt8(count >> 24 | 0x80), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
    }

    static func pairs(_ params: [(String, String)]) -> [UInt8] {
        params.flatMap { length($0.0.utf8.count) + length($0.1.utf8.count) + Array($0.0.utf8) + Array($0.1.utf8) }
    }

    static func begin(_ id: UInt16 = 1, keep: Bool = true, role: Int = 1) -> [UInt8] {
        record(FastCGIRecordHeader.Kind.beginRequest, id, [UInt8(role >> 8), UInt8(role & 0xFF), keep ? 1 : 0, 0, 0, 0, 0, 0])
    }

    static func stream(_ type: UInt8, _ id: UInt16, _ data: [UInt8], terminate: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        var offset = 0
        while offset < data.count {
            let count = min(0xFFFF, data.count - offset)
            bytes += record(type, id, Array(data[offset..<(offset + count)]))
            offset += count
        }
        return terminate ? bytes + record(type, id) : bytes
    }

    static func nginxParams(_ method: String, _ uri: String, contentLength: Int? = nil) -> [(String, String)] {
        var params = [("QUERY_STRING", ""), ("REQUEST_METHOD", method), ("CONTENT_TYPE", "application/json"),
                      ("SCRIPT_NAME", uri), ("REQUEST_URI", uri), ("DOCUMENT_URI", uri), ("SERVER_PROTOCOL", "HTTP/1.1"),
                      ("REMOTE_ADDR", "127.0.0.1"), ("HTTP_HOST", "localhost"), ("HTTP_USER_AGENT", "wrk")]
        if let contentLength { params.append(("CONTENT_LENGTH", String(contentLength))) }
        return params
    }

    static func request(_ id: UInt16 = 1, _ method: String = "GET", _ uri: String = "/health/live", body: [UInt8] = [],
                        keep: Bool = true) -> [UInt8] {
        begin(id, keep: keep) + stream(FastCGIRecordHeader.Kind.params, id, pairs(nginxParams(method, uri, contentLength: body.isEmpty ? nil : body.count)))
            + stream(FastCGIRecordHeader.Kind.stdin, id, body)
    }

    static func records(_ bytes: [UInt8]) -> [(type: UInt8, id: UInt16, content: [UInt8])] {
        var result: [(type: UInt8, id: UInt16, content: [UInt8])] = []
        var offset = 0
        while offset + 8 <= bytes.count {
            let header = bytes.withUnsafeBytes { FastCGIRecordHeader(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + 8)])) }
            let content = Array(bytes[(offset + 8)..<(offset + 8 + header.contentLength)])
            result.append((header.type, header.requestID, content))
            offset += 8 + header.contentLength + header.paddingLength
        }
        #expect(offset == bytes.count, "records end where the bytes end")
        return result
    }

    func connection(_ input: [UInt8], chunk: Int = Int.max, bufferSize: Int = 16 * 1024) -> Connection {
        Connection(transport: ScriptedTransport(input: input, chunk: chunk), bufferSize: bufferSize)
    }

    func next(_ connection: Connection, maxBodyBytes: Int = 64 * 1024) -> FastCGIRequest? {
        if case .request(let request) = connection.nextRequest(maxBodyBytes: maxBodyBytes, wanted: Self.wanted) { return request }
        return nil
    }

    // MARK: - Requests

    @Test func aRequestAsNginxSendsItIsReadWholeAndAnsweredInOneWrite() throws {
        let body = Array(#"{"product_id":1,"quantity":2}"#.utf8)
        let conn = connection(Self.request(7, "POST", "/api/v1/orders", body: body))
        var waits = 0
        conn.onReadWait = { waits += 1 }
        let request = try #require(next(conn))
        #expect(request.method == "POST" && request.path == "/api/v1/orders")
        #expect(request.parameters.keys.sorted() == ["CONTENT_LENGTH", "CONTENT_TYPE", "REQUEST_METHOD", "REQUEST_URI"])
        #expect(request.body == body && request.bodyStatus == .complete)
        #expect(conn.keepConnection)
        #expect(waits == 0, "everything arrived in one read")

        let response = FastCGIResponse(status: 201, headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
        #expect(conn.send(response))
        #expect(conn.transport.writes == 1)
        let sent = Self.records(conn.transport.output)
        #expect(sent.map(\.type) == [6, 6, 3] && sent.allSatisfy { $0.id == 7 })
        #expect(sent[0].content == response.serialized() && sent[1].content.isEmpty)
        #expect(sent[2].content == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(conn.nextRequest(maxBodyBytes: 1024, wanted: Self.wanted).isClosed, "end of stream between requests")
    }

    @Test func recordsSplitAnywhereReadTheSame() throws {
        let body = [UInt8](repeating: 0x61, count: 3000)
        let input = Self.request(1, "POST", "/api/v1/products", body: body) + Self.request(2)
        for chunk in [1, 3, 7, 8, 9, 100] {
            let conn = connection(input, chunk: chunk, bufferSize: 64)
            var waits = 0
            conn.onReadWait = { waits += 1 }
            let first = try #require(next(conn))
            #expect(first.body == body && first.parameters["REQUEST_URI"] == "/api/v1/products", "chunk \(chunk)")
            #expect(waits == 1, "one wait reported per request (chunk \(chunk))")
            let second = try #require(next(conn))
            #expect(second.path == "/health/live" && second.body.isEmpty)
        }
    }

    @Test func pairsSplitAcrossParamsRecordsWithAnyPadding() throws {
        let params = Self.pairs(Self.nginxParams("GET", "/api/v1/products?limit=20") + [("HTTP_X_LONG", String(repeating: "v", count: 300))])
        let cut1 = 5, cut2 = 140
        let input = Self.begin() + Self.record(4, 1, Array(params[..<cut1]), padding: 255)
            + Self.record(4, 1, Array(params[cut1..<cut2]), padding: 0) + Self.record(4, 1, Array(params[cut2...]), padding: 3)
            + Self.record(4, 1) + Self.record(5, 1, padding: 9)
        let request = try #require(next(connection(input)))
        #expect(request.path == "/api/v1/products" && request.parameters["REQUEST_URI"] == "/api/v1/products?limit=20")
    }

    @Test func allParametersAreKeptWhenNoneAreNamed() throws {
        let conn = connection(Self.request())
        guard case .request(let request) = conn.nextRequest(maxBodyBytes: 10, wanted: nil) else {
            Issue.record("no request")
            return
        }
        #expect(request.parameters.count == Self.nginxParams("GET", "/").count)
        #expect(request.header("HOST") == "localhost")
    }

    @Test func onlyContentLengthBytesAreTheBodyAndTheRestIsDrained() throws {
        let body = Array(#"{"x":1}   "#.utf8) + [UInt8](repeating: 0x79, count: 200_000)
        let params = Self.pairs(Self.nginxParams("POST", "/api/v1/auth/login", contentLength: 10))
        let input = Self.begin() + Self.stream(4, 1, params) + Self.stream(5, 1, body) + Self.request(2)
        let conn = connection(input, chunk: 4096)
        let first = try #require(next(conn))
        #expect(first.body == Array(#"{"x":1}   "#.utf8) && first.bodyStatus == .complete)
        #expect(try #require(next(conn)).path == "/health/live")
    }

    @Test(arguments: ["65537", "2147483647", "9223372036854775807", "-1"])
    func aContentLengthOverTheLimitIsTooLargeAndNeverAllocated(declared: String) throws {
        let params = Self.pairs([("REQUEST_METHOD", "POST"), ("REQUEST_URI", "/api/v1/auth/login"), ("CONTENT_LENGTH", declared)])
        let input = Self.begin() + Self.stream(4, 1, params) + Self.stream(5, 1, [UInt8](repeating: 0x7A, count: 300_000)) + Self.request(2)
        let conn = connection(input)
        let request = try #require(next(conn))
        #expect(request.bodyStatus == .tooLarge && request.body.isEmpty)
        #expect(try #require(next(conn)).path == "/health/live", "the body was drained")
    }

    @Test func aBodyThatStopsIsIncompleteAndTheConnectionCloses() throws {
        let params = Self.pairs(Self.nginxParams("POST", "/api/v1/auth/login", contentLength: 100))
        let cut = Self.begin() + Self.stream(4, 1, params) + Self.record(5, 1, Array(#"{"username""#.utf8), padding: 0)
        let conn = connection(Array(cut.dropLast(3)))
        let request = try #require(next(conn))
        #expect(request.bodyStatus == .incomplete && request.body == Array(#"{"userna"#.utf8))
        #expect(!conn.keepConnection)

        let early = connection(Self.begin() + Self.stream(4, 1, params) + Self.stream(5, 1, Array("short".utf8)))
        let ended = try #require(next(early))
        #expect(ended.bodyStatus == .incomplete && ended.body == Array("short".utf8))
        #expect(early.keepConnection, "a STDIN stream that ended properly keeps the connection")
    }

    @Test func withoutKeepConnTheRequestSaysSo() throws {
        let conn = connection(Self.request(keep: false))
        _ = try #require(next(conn))
        #expect(!conn.keepConnection)
    }

    // MARK: - Other records

    @Test func getValuesIsAnsweredAndUnknownManagementTypesAreSkipped() throws {
        let asked = Self.pairs([("FCGI_MPXS_CONNS", ""), ("FCGI_MAX_CONNS", ""), ("SOMETHING_ELSE", "")])
        let input = Self.record(9, 0, asked) + Self.record(99, 0, [UInt8](repeating: 0, count: 8)) + Self.record(255, 0, Array("zz".utf8), padding: 6)
            + Self.request(2)
        let conn = connection(input)
        #expect(try #require(next(conn)).path == "/health/live")
        let answers = Self.records(conn.transport.output)
        #expect(answers.map(\.type) == [10, 11, 11] && answers.allSatisfy { $0.id == 0 })
        #expect(answers[0].content == Self.pairs([("FCGI_MPXS_CONNS", "0"), ("FCGI_MAX_CONNS", "1")]))
        #expect(answers[1].content.first == 99 && answers[2].content.first == 255)
    }

    @Test func aSecondBeginRequestIsRefusedAndOtherIdsAreSkipped() throws {
        let params = Self.pairs(Self.nginxParams("GET", "/health"))
        let input = Self.begin(1) + Self.record(4, 1, params) + Self.begin(2) + Self.record(99, 42, Array("abc".utf8))
            + Self.record(4, 1) + Self.record(5, 1)
        let conn = connection(input)
        #expect(try #require(next(conn)).path == "/health")
        let answers = Self.records(conn.transport.output)
        #expect(answers.count == 1 && answers[0].type == 3 && answers[0].id == 2 && answers[0].content[4] == 1)
    }

    @Test func anAbortedRequestIsEndedAndNotHandedOver() throws {
        let params = Self.pairs(Self.nginxParams("GET", "/health"))
        let kept = connection(Self.begin(1) + Self.record(4, 1, params) + Self.record(2, 1) + Self.request(2))
        #expect(try #require(next(kept)).parameters["REQUEST_URI"] == "/health/live")
        let ended = Self.records(kept.transport.output)
        #expect(ended.count == 1 && ended[0].type == 3 && ended[0].id == 1 && ended[0].content[4] == 0)

        let notKept = connection(Self.begin(1, keep: false) + Self.stream(4, 1, params) + Self.record(2, 1) + Self.request(2))
        #expect(notKept.nextRequest(maxBodyBytes: 10, wanted: nil).isClosed)
    }

    @Test func anUnknownRoleIsRefused() throws {
        let input = Self.begin(1, role: 99) + Self.stream(4, 1, Self.pairs([("A", "b")])) + Self.record(5, 1) + Self.request(2)
        let conn = connection(input)
        #expect(try #require(next(conn)).parameters["REQUEST_URI"] == "/health/live")
        let answers = Self.records(conn.transport.output)
        #expect(answers.count == 1 && answers[0].type == 3 && answers[0].id == 1 && answers[0].content[4] == 3)
    }

    // MARK: - What closes the connection

    static let broken: [String: [UInt8]] = [
        "version 2": record(1, 1, [0, 1, 0, 0, 0, 0, 0, 0], version: 2) + stream(4, 1, []) + record(5, 1),
        "half a header": Array(begin().prefix(4)),
        "BEGIN_REQUEST of 7 bytes": record(1, 1, [0, 1, 0, 0, 0, 0, 0]),
        "name and value 0x7fffffff (CVE-2025-23016)": begin() + stream(4, 1, length(0x7FFF_FFFF) + length(0x7FFF_FFFF) + [UInt8](repeating: 0x42, count: 1000)),
        "value longer than the stream": begin() + stream(4, 1, [6, 100] + Array("HTTP_Xabc".utf8)),
        "pair length cut": begin() + record(4, 1, [0x80, 0]) + record(4, 1) + record(5, 1),
        "params over the limit": begin() + stream(4, 1, [UInt8](repeating: 1, count: 300_000)),
        "STDOUT sent to the responder": begin() + record(6, 1, Array("Status: 200\r\n\r\n".utf8)) + stream(4, 1, []) + record(5, 1),
        "an HTTP request": Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
    ]

    @Test(arguments: broken.keys.sorted())
    func protocolViolationsCloseTheConnection(name: String) {
        let conn = connection(Self.broken[name]! + Self.request(2))
        #expect(conn.nextRequest(maxBodyBytes: 64 * 1024, wanted: Self.wanted).isClosed, "\(name)")
    }

    // MARK: - Responses

    @Test func aResponseOver64KiBIsSplitIntoRecords() {
        let conn = connection(Self.request(3))
        _ = next(conn)
        let response = FastCGIResponse(status: 200, body: [UInt8](repeating: 0x5A, count: 200_000))
        #expect(conn.send(response))
        let sent = Self.records(conn.transport.output)
        #expect(sent.map(\.type) == [6, 6, 6, 6, 6, 3] && sent.allSatisfy { $0.id == 3 })
        #expect(sent.dropLast(2).allSatisfy { $0.content.count <= 0xFFFF && !$0.content.isEmpty })
        #expect(sent.dropLast(2).flatMap(\.content) == response.serialized())
    }

    @Test func aSendThatWouldBlockSaysSoAndFinishes() {
        var transport = ScriptedTransport(input: Self.request())
        transport.socketRoom = 10
        let conn = Connection(transport: transport)
        _ = next(conn)
        var writeWaits = 0
        conn.onWriteWait = { writeWaits += 1 }
        let response = FastCGIResponse(status: 200, body: Array("{}".utf8))
        #expect(conn.send(response))
        #expect(writeWaits == 1 && conn.transport.writes == 2)
        #expect(Self.records(conn.transport.output).first?.content == response.serialized())
    }
}

extension FastCGIConnection.Outcome {
    var isClosed: Bool {
        if case .closed = self { return true }
        return false
    }
}
