import FastCGI
import StockroomHTTP
import StockroomCore

/// Connects a responder thread of the FastCGI pool to the application's request handler.
final class FastCGIAdapter: FastCGIResponder {
    private let handler: RequestHandler

    init(handler: RequestHandler) { self.handler = handler }

    func respond(to incoming: FastCGIRequest) -> FastCGIResponse {
        let status: Request.BodyStatus
        switch incoming.bodyStatus {
        case .complete: status = .complete
        case .tooLarge: status = .tooLarge
        case .incomplete: status = .incomplete
        }
        let request = Request(method: incoming.method, path: incoming.path, query: incoming.queryString,
                              parameters: incoming.parameters, body: incoming.body, bodyStatus: status)
        let response = handler.handle(request)
        return FastCGIResponse(status: response.status, headers: response.headers, body: response.body)
    }

    func finish() { handler.finish() }
}
