/// An error the API answers on purpose, in the contract's shape:
/// `{"error": {"code": "...", "message": "...", <extra>}}`.
public struct HTTPError: Error, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var extra: [(key: String, value: JSONValue)]
    public var headers: [(name: String, value: String)]

    public init(_ status: Int, _ code: String, _ message: String,
                extra: [(key: String, value: JSONValue)] = [], headers: [(name: String, value: String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers = headers
    }

    public var response: Response {
        let body: JSONValue = .object([
            ("error", .object([("code", .string(code)), ("message", .string(message))] + extra)),
        ])
        return .json(status, body, headers: headers)
    }

    // The errors every resource shares.
    public static let notFound = HTTPError(404, "not_found", "No such resource.")
    public static let unauthorized = HTTPError(401, "unauthorized", "A valid bearer token is required.",
                                               headers: [("WWW-Authenticate", "Bearer")])
    public static let forbidden = HTTPError(403, "forbidden", "Your role is not allowed to do this.")
    public static let payloadTooLarge = HTTPError(413, "payload_too_large", "The request body is larger than 64 KiB.")
    public static let unsupportedMediaType = HTTPError(415, "unsupported_media_type", "The request body must be application/json.")
    public static let databaseUnavailable = HTTPError(503, "database_unavailable", "The database is unavailable; try again shortly.",
                                                      headers: [("Retry-After", "2")])
    public static let internalError = HTTPError(500, "internal_error", "An unexpected error occurred.")

    public static func invalidJSON(_ detail: String) -> HTTPError {
        HTTPError(400, "invalid_json", "The request body is not valid JSON: \(detail).")
    }

    public static func validation(_ field: String, _ message: String) -> HTTPError {
        HTTPError(422, "validation_failed", message, extra: [("field", .string(field))])
    }

    public static func methodNotAllowed(allowed: [String]) -> HTTPError {
        HTTPError(405, "method_not_allowed", "This method is not allowed on this resource.",
                  headers: [("Allow", allowed.joined(separator: ", "))])
    }
}
