/// The ids that tie a request's log lines to nginx's access log and to a client's own tracing: the
/// request id nginx chose (REQUEST_ID: the client's well-formed `X-Request-Id`, else nginx's
/// `$request_id`) and a W3C `traceparent` (TRACEPARENT, passed only when well-formed).
///
/// nginx already checks both (nginx/stockroom-http.conf); the responder checks again because its
/// socket could be reached by something else, and these values go into every log line of the request.
struct RequestTrace: Equatable, Sendable {
    /// Echoed as `X-Request-Id`, logged as `request.id`.
    let requestID: String
    /// Logged as `traceparent` when the request carried a well-formed one.
    let traceparent: String?

    init(parameters: [String: String], fallbackID: @autoclosure () -> String) {
        requestID = parameters["REQUEST_ID"].flatMap { Self.isWellFormedRequestID($0) ? $0 : nil } ?? fallbackID()
        traceparent = parameters["TRACEPARENT"].flatMap { Self.isWellFormedTraceparent($0) ? $0 : nil }
    }

    /// 1...64 characters of `A-Z a-z 0-9 . _ -`: the rule nginx applies to a client's `X-Request-Id`.
    static func isWellFormedRequestID(_ value: String) -> Bool {
        let bytes = value.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    /// W3C Trace Context, version 00 layout: `vv-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>`,
    /// lowercase hex; version ff and all-zero ids are invalid.
    static func isWellFormedTraceparent(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard bytes.count == 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"),
              bytes[52] == UInt8(ascii: "-") else { return false }
        let version = bytes[0..<2], traceID = bytes[3..<35], parentID = bytes[36..<52], flags = bytes[53..<55]
        for field in [version, traceID, parentID, flags] where !field.allSatisfy(isLowercaseHex) {
            return false
        }
        return !version.elementsEqual("ff".utf8)
            && !traceID.allSatisfy { $0 == UInt8(ascii: "0") }
            && !parentID.allSatisfy { $0 == UInt8(ascii: "0") }
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
