import Testing
@testable import StockroomRuntime

/// The worker's metrics endpoint: its address setting and its answers, without a socket.
@Suite struct MetricsListenerTests {
    @Test func loopbackAddressesAreTakenAndOthersRefused() {
        #expect(LoopbackAddress("127.0.0.1:9465") == LoopbackAddress(host: "127.0.0.1", port: 9465))
        #expect(LoopbackAddress("127.0.0.2:0") == LoopbackAddress(host: "127.0.0.2", port: 0))
        #expect(LoopbackAddress("[::1]:9465")?.description == "[::1]:9465")
        for refused in ["0.0.0.0:9465", "10.0.0.1:9465", "localhost:9465", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000",
                        "127.0.0.1:-1", "127.0.0.1:9465 ", "127.0.0.256:1", "127.0.0:1", "[::]:9465", "[::1]9465", ":9465"] {
            #expect(LoopbackAddress(refused) == nil, "took \(refused)")
        }
    }

    private func answer(_ head: String) -> String {
        String(decoding: MetricsRequest.answer(toHead: Array(head.utf8), metrics: { Array("m 1\n".utf8) }), as: UTF8.self)
    }

    @Test func getMetricsIsTheExposition() {
        let reply = answer("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(reply.contains("Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n"))
        #expect(answer("GET /metrics?x=1 HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.1 200 OK\r\n"))
        let head = answer("HEAD /metrics HTTP/1.1\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("Content-Length: 4\r\nConnection: close\r\n\r\n"))
    }

    @Test func anythingElseIsRefused() {
        #expect(answer("GET / HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
        #expect(answer("GET /metrics/1 HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404 "))
        let post = answer("POST /metrics HTTP/1.1\r\n\r\n")
        #expect(post.hasPrefix("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD\r\n"))
        #expect(answer("garbage\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
        #expect(answer("GET /metrics SPDY/3\r\n\r\n").hasPrefix("HTTP/1.1 400 "))
    }

    @Test func theHeadEndsAtTheBlankLine() {
        #expect(MetricsRequest.hasEndOfHead(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)))
        #expect(MetricsRequest.hasEndOfHead(Array("GET / HTTP/1.0\n\n".utf8)))
        #expect(!MetricsRequest.hasEndOfHead(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8)))
        #expect(!MetricsRequest.hasEndOfHead([]))
    }
}
