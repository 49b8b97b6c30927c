/// Matches a request's method and path to a handler. Paths are literal segments and `{id}`
/// segments (positive integers only: anything else is an unknown path, 404). Matching works on the
/// path's bytes without splitting it into strings.
struct Router: Sendable {
    typealias Handler = @Sendable (RequestContext, [Int64]) throws -> Response

    /// A class: matching hands out a reference, not a copy of the strings, segments and closure.
    final class Route: Sendable {
        let method: String
        let segments: [Segment]
        /// The pattern, e.g. `/api/v1/products/{id}`: the metrics label.
        let name: String
        /// Cache-Control and validators for its answers; nothing is stored unless the route says so.
        let cachePolicy: CachePolicy
        let handler: Handler

        init(method: String, segments: [Segment], name: String, cachePolicy: CachePolicy, handler: @escaping Handler) {
            self.method = method
            self.segments = segments
            self.name = name
            self.cachePolicy = cachePolicy
            self.handler = handler
        }
    }

    enum Segment: Equatable, Sendable {
        case literal([UInt8])
        case id
    }

    enum Match {
        case found(Route, ids: [Int64])
        case methodNotAllowed(allowed: [String], name: String)
        case notFound
    }

    private(set) var routes: [Route] = []

    mutating func add(_ method: String, _ pattern: String, cache cachePolicy: CachePolicy = .noStore,
                      _ handler: @escaping Handler) {
        precondition(cachePolicy == .noStore || method == "GET", "only a GET route can be revalidated")
        let segments = pattern.split(separator: "/").map { $0 == "{id}" ? Segment.id : .literal(Array($0.utf8)) }
        routes.append(Route(method: method, segments: segments, name: pattern, cachePolicy: cachePolicy, handler: handler))
    }

    func match(method requested: String, path: String) -> Match {
        // HEAD is GET without a body (nginx drops the body it receives for HEAD).
        let method = requested == "HEAD" ? "GET" : requested
        var path = path
        return path.withUTF8 { bytes in
            guard let parts = Self.segments(of: bytes) else { return .notFound }
            var allowed: [String] = []
            var name = ""
            for route in routes where route.segments.count == parts.count {
                guard let ids = Self.ids(of: parts, in: bytes, against: route.segments) else { continue }
                if route.method == method { return .found(route, ids: ids) }
                allowed.append(route.method)
                if route.method == "GET" { allowed.append("HEAD") }
                name = route.name
            }
            return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed, name: name)
        }
    }

    /// The byte ranges between slashes of an absolute path; nil for a relative path, an empty
    /// segment (`//`) or a trailing slash.
    private static func segments(of bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>]? {
        guard bytes.first == UInt8(ascii: "/") else { return nil }
        if bytes.count == 1 { return [] }
        var parts: [Range<Int>] = []
        parts.reserveCapacity(6)
        var start = 1
        for index in 1...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "/") {
            guard index > start else { return nil }
            parts.append(start..<index)
            start = index + 1
        }
        return parts
    }

    private static func ids(of parts: [Range<Int>], in bytes: UnsafeBufferPointer<UInt8>, against segments: [Segment]) -> [Int64]? {
        var ids: [Int64] = []
        for (part, segment) in zip(parts, segments) {
            let text = UnsafeBufferPointer(rebasing: bytes[part])
            switch segment {
            case .literal(let literal):
                guard literal.elementsEqual(text) else { return nil }
            case .id:
                guard let id = positiveID(text) else { return nil }
                ids.append(id)
            }
        }
        return ids
    }

    /// Digits only, no sign, 1 ... Int64.max.
    static func positiveID(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !text.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in text {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(Int64(byte - 0x30))
            guard !overflow1 && !overflow2 else { return nil }
            value = added
        }
        return value > 0 ? value : nil
    }

    static func positiveID(_ text: Substring) -> Int64? {
        var text = String(text)
        return text.withUTF8 { positiveID($0) }
    }
}
