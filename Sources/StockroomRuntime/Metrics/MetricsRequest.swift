/// The HTTP side of `MetricsListener`, apart from its socket: which answer a request head gets.
enum MetricsRequest {
    static func hasEndOfHead(_ bytes: [UInt8]) -> Bool {
        let end: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return false }
        for start in 0...(bytes.count - 4) where bytes[start..<(start + 4)].elementsEqual(end) { return true }
        return bytes.count >= 2 && bytes.suffix(2).elementsEqual([10, 10])
    }

    /// `GET /metrics` (any query string): 200 with the exposition; HEAD the same without the body;
    /// another path 404, another method 405, a request line that is not HTTP 400. Always closes.
    static func answer(toHead head: [UInt8], metrics: () -> [UInt8]) -> [UInt8] {
        let line = head.prefix { $0 != 13 && $0 != 10 }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return response(400, "Bad Request", "bad request\n") }
        let path = parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard path == "/metrics" else { return response(404, "Not Found", "only /metrics is served here\n") }
        switch parts[0] {
        case "GET": return response(200, "OK", metrics(), contentType: MetricsExposition.contentType)
        case "HEAD": return response(200, "OK", metrics(), contentType: MetricsExposition.contentType, withBody: false)
        default: return response(405, "Method Not Allowed", "GET or HEAD\n", extraHeaders: "Allow: GET, HEAD\r\n")
        }
    }

    private static func response(_ status: Int, _ reason: String, _ text: String, extraHeaders: String = "") -> [UInt8] {
        response(status, reason, Array(text.utf8), contentType: "text/plain; charset=utf-8", extraHeaders: extraHeaders)
    }

    private static func response(_ status: Int, _ reason: String, _ body: [UInt8], contentType: String,
                                 withBody: Bool = true, extraHeaders: String = "") -> [UInt8] {
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "\(extraHeaders)Connection: close\r\n\r\n"
        return Array(head.utf8) + (withBody ? body : [])
    }
}
