import Testing
import FastCGI

@Suite struct FastCGIResponseTests {
    private func serialized(_ status: Int, _ headers: [(name: String, value: String)] = [], body: String = "") -> String {
        String(decoding: FastCGIResponse(status: status, headers: headers, body: Array(body.utf8)).serialized(), as: UTF8.self)
    }

    @Test func exactBytesOfACreatedResponse() {
        let text = serialized(201, [("Content-Type", "application/json"), ("Location", "/api/v1/products/7")], body: #"{"id":7}"#)
        #expect(text.hasPrefix("Status: 201 Created\r\n"))
        #expect(text == "Status: 201 Created\r\n"
            + "Content-Type: application/json\r\n"
            + "Location: /api/v1/products/7\r\n"
            + "Content-Length: 8\r\n"
            + "\r\n"
            + #"{"id":7}"#)
    }

    @Test func headersKeepTheirOrder() {
        let text = serialized(200, [("X-B", "2"), ("X-A", "1"), ("X-C", "3"), ("X-A", "again")])
        #expect(text == "Status: 200 OK\r\nX-B: 2\r\nX-A: 1\r\nX-C: 3\r\nX-A: again\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func noContentHasNoContentLength() {
        let text = serialized(204, [("Content-Type", "application/json")])
        #expect(text == "Status: 204 No Content\r\nContent-Type: application/json\r\n\r\n")
        #expect(!text.contains("Content-Length"))
    }

    @Test func notModifiedHasNoContentLength() {
        #expect(!serialized(304).contains("Content-Length"))
    }

    @Test func contentLengthCountsBytesNotCharacters() {
        let text = serialized(200, body: "é😀")
        #expect(text.contains("\r\nContent-Length: 6\r\n"))
    }

    @Test func blankLineSeparatesHeadersFromABodyThatLooksLikeHeaders() {
        let body = "Status: 500 Oops\r\n\r\nmore"
        let bytes = FastCGIResponse(status: 400, body: Array(body.utf8)).serialized()
        let head = Array("Status: 400 Bad Request\r\nContent-Length: \(body.utf8.count)\r\n\r\n".utf8)
        #expect(Array(bytes.prefix(head.count)) == head)
        #expect(Array(bytes.dropFirst(head.count)) == Array(body.utf8))
    }

    @Test func binaryBodyIsCopiedVerbatim() {
        let body: [UInt8] = [0x00, 0xFF, 0x0D, 0x0A, 0x80]
        let bytes = FastCGIResponse(status: 200, body: body).serialized()
        #expect(Array(bytes.suffix(body.count)) == body)
        #expect(bytes.count == "Status: 200 OK\r\nContent-Length: 5\r\n\r\n".utf8.count + body.count)
    }

    @Test(arguments: [
        (200, "OK"), (201, "Created"), (204, "No Content"), (304, "Not Modified"), (400, "Bad Request"), (401, "Unauthorized"), (403, "Forbidden"),
        (404, "Not Found"), (405, "Method Not Allowed"), (409, "Conflict"), (413, "Payload Too Large"),
        (415, "Unsupported Media Type"), (422, "Unprocessable Entity"), (429, "Too Many Requests"),
        (500, "Internal Server Error"), (503, "Service Unavailable"),
    ])
    func statusLine(_ status: Int, _ reason: String) {
        #expect(serialized(status).hasPrefix("Status: \(status) \(reason)\r\n"))
    }
}

@Suite struct FastCGIRequestTests {
    @Test func pathWithoutQuery() {
        let request = FastCGIRequest(parameters: ["REQUEST_URI": "/api/v1/products?limit=5&after=2", "QUERY_STRING": "limit=5&after=2",
                                                  "REQUEST_METHOD": "POST"], body: [])
        #expect(request.path == "/api/v1/products")
        #expect(request.queryString == "limit=5&after=2")
        #expect(request.method == "POST")
    }

    @Test func defaults() {
        let request = FastCGIRequest(parameters: [:], body: [])
        #expect(request.path == "/")
        #expect(request.method == "GET")
        #expect(request.queryString == "")
        #expect(request.bodyStatus == .complete)
        #expect(FastCGIRequest(parameters: ["DOCUMENT_URI": "/health"], body: []).path == "/health")
    }

    @Test func requestURIWinsOverDocumentURI() {
        let request = FastCGIRequest(parameters: ["REQUEST_URI": "/original?x", "DOCUMENT_URI": "/rewritten"], body: [])
        #expect(request.path == "/original")
    }

    @Test func headersByCGIName() {
        let request = FastCGIRequest(parameters: ["HTTP_AUTHORIZATION": "Bearer x"], body: [])
        #expect(request.header("AUTHORIZATION") == "Bearer x")
        #expect(request.header("COOKIE") == nil)
    }
}

extension FastCGIResponse {
    /// The CGI answer alone, as the connection writes it into its STDOUT record.
    func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        serialize(into: &bytes)
        return bytes
    }
}
