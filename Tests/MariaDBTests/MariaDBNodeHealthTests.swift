import Testing
@testable import MariaDB

/// The node choice every process makes the same way: the first node of the list not suspected of
/// failing, suspected ones last. No server needed: the endpoints refuse connections (port 1).
@Suite struct MariaDBNodeHealthTests {
    static func configuration(nodes: Int) -> MariaDBConfiguration {
        var configuration = MariaDBConfiguration(host: "127.0.0.1", port: 1, connectTimeout: 1)
        configuration.endpoints = (1...nodes).map { MariaDBEndpoint(host: "127.0.0.1", port: UInt32($0)) }
        return configuration
    }

    @Test func theFirstUnsuspectedNodeIsPreferredAndSuspectedNodesComeLast() {
        let configuration = Self.configuration(nodes: 3)
        let health = configuration.nodeHealth
        #expect(health.preferredNode == 0)
        #expect(health.connectionOrder() == [0, 1, 2])

        health.recordFailed(0, configuration: configuration, logger: .init(label: "test"))
        #expect(health.preferredNode == 1)
        #expect(health.connectionOrder() == [1, 2, 0])
        health.recordFailed(1, configuration: configuration, logger: .init(label: "test"))
        #expect(health.preferredNode == 2)
        #expect(health.connectionOrder() == [2, 0, 1])

        // Back in list order as nodes recover, whichever recovers first.
        #expect(health.recordUsable(1))
        #expect(health.preferredNode == 1)
        #expect(!health.recordUsable(1))
        #expect(health.recordUsable(0))
        #expect(health.preferredNode == 0)
        #expect(health.connectionOrder() == [0, 1, 2])
    }

    @Test func whenEveryNodeIsSuspectedTheFirstIsPreferred() {
        let configuration = Self.configuration(nodes: 2)
        let health = configuration.nodeHealth
        health.recordFailed(1, configuration: configuration, logger: .init(label: "test"))
        health.recordFailed(0, configuration: configuration, logger: .init(label: "test"))
        #expect(health.preferredNode == 0)
        #expect(health.connectionOrder() == [0, 1])
    }

    /// One server: nothing to move to, so a failure marks nothing.
    @Test func aSingleServerIsNeverSuspected() {
        let configuration = Self.configuration(nodes: 1)
        configuration.nodeHealth.recordFailed(0, configuration: configuration, logger: .init(label: "test"))
        #expect(!configuration.nodeHealth.isSuspected(0))
        #expect(configuration.nodeHealth.preferredNode == 0)
    }

    /// Each configuration (a reload builds a new one) learns on its own; copies share what they learn.
    @Test func copiesShareTheirHealthAndNewEndpointsStartAfresh() {
        let configuration = Self.configuration(nodes: 2)
        let copy = configuration
        configuration.nodeHealth.recordFailed(0, configuration: configuration, logger: .init(label: "test"))
        #expect(copy.nodeHealth.preferredNode == 1)
        var changed = configuration
        changed.endpoints = configuration.endpoints
        #expect(changed.nodeHealth.preferredNode == 0)
    }

    /// A session with every node refusing reports the failure (503 upstream), after trying each.
    @Test func aSessionWithNoUsableNodeReportsUnavailable() {
        MariaDBConnection.initializeLibrary()
        var configuration = Self.configuration(nodes: 3)
        configuration.failoverSeconds = 0.2
        let session = MariaDBSession(configuration: configuration, logger: .init(label: "test"))
        var failovers = 0
        session.onFailover = { _ in failovers += 1 }
        #expect {
            try session.transaction { _ in 1 }
        } throws: { error in
            (error as? MariaDBError)?.kind == .unavailable
        }
        #expect(failovers > 0)
        #expect((0..<3).allSatisfy { configuration.nodeHealth.isSuspected($0) })
    }
}
