import FastCGI
import StockroomHTTP
import StockroomCore
import StockroomRuntime

/// What the responder's parts take from its settings.
extension ResponderSettings {
    var pool: ResponderPool.Configuration {
        .init(threadCount: threadCount, parameterNames: StockroomApplication.requestParameterNames,
              idleTimeout: Double(connectionIdleTimeoutSeconds))
    }

    var application: StockroomConfiguration {
        var configuration = StockroomConfiguration(database: database, sessionLifetimeSeconds: sessionLifetimeSeconds)
        configuration.testHooksEnabled = testHooksEnabled
        configuration.slowRequestMilliseconds = slowRequestMilliseconds
        configuration.pricing = PricingPolicy(taxRateBasisPoints: taxRateBasisPoints, deliveryFee: Money(cents: deliveryFeeCents),
                                              freeDeliveryFrom: freeDeliveryFromCents.map { Money(cents: $0) })
        return configuration
    }
}
