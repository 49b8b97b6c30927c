import Testing
@testable import StockroomHTTP

@Suite struct RequestTraceTests {
    private let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func wellFormedIdsAreKept() {
        let trace = RequestTrace(parameters: ["REQUEST_ID": "client-42.a_B", "TRACEPARENT": traceparent],
                                 fallbackID: "3-1")
        #expect(trace == RequestTrace(parameters: ["REQUEST_ID": "client-42.a_B", "TRACEPARENT": traceparent],
                                      fallbackID: "other"))
        #expect(trace.requestID == "client-42.a_B")
        #expect(trace.traceparent == traceparent)
    }

    @Test func missingIdsFallBack() {
        let trace = RequestTrace(parameters: [:], fallbackID: "3-1")
        #expect(trace.requestID == "3-1")
        #expect(trace.traceparent == nil)
    }

    @Test(arguments: ["", String(repeating: "a", count: 65), "a b", "a\nb", "id\"x", "é", "a/b", "a=b", "%41"])
    func illFormedRequestIdIsReplaced(_ value: String) {
        #expect(RequestTrace(parameters: ["REQUEST_ID": value], fallbackID: "3-1").requestID == "3-1")
    }

    @Test func requestIdLengthBounds() {
        #expect(RequestTrace.isWellFormedRequestID("a"))
        #expect(RequestTrace.isWellFormedRequestID(String(repeating: "9", count: 64)))
        #expect(RequestTrace.isWellFormedRequestID("0af7651916cd43dd8448eb211c80319c"))
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",          // no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",       // uppercase
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",       // zero trace-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",       // zero parent-id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",      // trailing space
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // separator
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",       // not hex
    ])
    func illFormedTraceparentIsDropped(_ value: String) {
        #expect(RequestTrace(parameters: ["TRACEPARENT": value], fallbackID: "1-1").traceparent == nil)
    }
}
