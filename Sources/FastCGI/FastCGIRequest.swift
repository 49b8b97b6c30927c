/// A request as the responder handles it: the FastCGI parameters the application reads and the
/// body, read to exactly CONTENT_LENGTH bytes.
public struct FastCGIRequest: Sendable {
    public enum BodyStatus: Sendable {
        case complete
        /// CONTENT_LENGTH was over the limit; nothing was read into memory.
        case tooLarge
        /// The stream ended before CONTENT_LENGTH bytes arrived.
        case incomplete
    }

    public var parameters: [String: String]
    public var body: [UInt8]
    public var bodyStatus: BodyStatus = .complete

    public init(parameters: [String: String], body: [UInt8]) {
        self.parameters = parameters
        self.body = body
    }

    public var method: String { parameters["REQUEST_METHOD"] ?? "GET" }

    /// The path without the query string, as nginx received it (before any rewrite).
    public var path: String {
        let uri = parameters["REQUEST_URI"] ?? parameters["DOCUMENT_URI"] ?? "/"
        if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) { return String(uri[..<question]) }
        return uri
    }

    public var queryString: String { parameters["QUERY_STRING"] ?? "" }

    public func header(_ name: String) -> String? { parameters["HTTP_" + name] }
}

/// What a handler answers. Serialized as CGI response headers (`Status:` first) and the body.
public struct FastCGIResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Appends the status line, the headers and the body to `bytes` (the connection's output buffer,
    /// after the record header it fills in afterwards).
    public func serialize(into bytes: inout [UInt8]) {
        bytes.append(contentsOf: Self.statusLine(for: status))
        for header in headers {
            bytes.append(contentsOf: header.name.utf8)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(UInt8(ascii: " "))
            bytes.append(contentsOf: header.value.utf8)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        if status != 204 && status != 304 {
            bytes.append(contentsOf: "Content-Length: ".utf8)
            Self.appendDecimal(body.count, to: &bytes)
            bytes.append(0x0D)
            bytes.append(0x0A)
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
        bytes.append(contentsOf: body)
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &bytes) }
        bytes.append(UInt8(value % 10) + 0x30)
    }

    /// `Status: 200 OK\r\n`, made once per status code.
    private static let statusLines: [Int: [UInt8]] = Dictionary(uniqueKeysWithValues:
        [200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503].map { ($0, line(for: $0)) })

    private static func line(for status: Int) -> [UInt8] { Array("Status: \(status) \(reason(for: status))\r\n".utf8) }

    static func statusLine(for status: Int) -> [UInt8] { statusLines[status] ?? line(for: status) }

    static func reason(for status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 415: return "Unsupported Media Type"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Status"
        }
    }
}
