/// GET /api/v1/store/pricing: the operator's tax rate and delivery fees.
enum PricingHandler {
    static func register(in router: inout Router) {
        router.add("GET", "/api/v1/store/pricing", cache: .revalidate) { context, _ in
            try context.checkNoBodyRequest()
            return .json(200, context.application.configuration.pricing.json)
        }
    }
}
