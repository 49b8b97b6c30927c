/// Matches a request's method and path to a handler. Paths are literal segments and `{id}`
/// segments (positive integers only: anything else is an unknown path, 404).
struct Router {
    typealias Handler = (RequestContext, [Int64]) throws -> Response

    struct Route {
        let method: String
        let segments: [Segment]
        /// The pattern, e.g. `/api/v1/products/{id}`: the metrics label.
        let name: String
        let handler: Handler
    }

    enum Segment: Equatable {
        case literal(String)
        case id
    }

    enum Match {
        case found(Route, ids: [Int64])
        case methodNotAllowed(allowed: [String], name: String)
        case notFound
    }

    private(set) var routes: [Route] = []

    mutating func add(_ method: String, _ pattern: String, _ handler: @escaping Handler) {
        let segments = pattern.split(separator: "/").map { $0 == "{id}" ? Segment.id : .literal(String($0)) }
        routes.append(Route(method: method, segments: segments, name: pattern, handler: handler))
    }

    func match(method requested: String, path: String) -> Match {
        // HEAD is GET without a body (nginx drops the body it receives for HEAD).
        let method = requested == "HEAD" ? "GET" : requested
        guard path.first == "/" else { return .notFound }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if parts.last == "" && parts.count > 1 { return .notFound }  // no trailing slashes
        var allowed: [String] = []
        var name = ""
        for route in routes where route.segments.count == parts.count || (route.segments.isEmpty && parts == [""]) {
            guard let ids = Self.ids(of: parts, against: route.segments) else { continue }
            if route.method == method { return .found(route, ids: ids) }
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
            name = route.name
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed, name: name)
    }

    private static func ids(of parts: ArraySlice<Substring>, against segments: [Segment]) -> [Int64]? {
        var ids: [Int64] = []
        for (part, segment) in zip(parts, segments) {
            switch segment {
            case .literal(let text):
                guard part == text else { return nil }
            case .id:
                guard let id = positiveID(part) else { return nil }
                ids.append(id)
            }
        }
        return ids
    }

    /// Digits only, no sign, 1 ... Int64.max.
    static func positiveID(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int64(text), value > 0 else {
            return nil
        }
        return value
    }
}
