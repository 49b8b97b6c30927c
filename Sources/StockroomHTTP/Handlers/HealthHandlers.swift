/// GET /health (database round trip) and GET /health/live (no database).
enum HealthHandlers {
    static func register(in router: inout Router) {
        router.add("GET", "/health") { context, _ in
            try context.checkNoBodyRequest()
            if context.database.isDatabaseUp() {
                return .json(200, .object([("status", .string("healthy")), ("database", .string("up"))]))
            }
            return .json(503, .object([("status", .string("unhealthy")), ("database", .string("down"))]),
                         headers: [("Retry-After", "2")])
        }
        router.add("GET", "/health/live") { context, _ in
            try context.checkNoBodyRequest()
            return .json(200, .object([("status", .string("alive"))]))
        }
    }
}
