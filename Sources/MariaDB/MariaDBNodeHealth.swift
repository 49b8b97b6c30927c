import Dispatch
import Logging
import Synchronization

/// What one process knows of its configured nodes: which failed lately. Every connection of the
/// process goes to `preferredNode`, the first node of the list not suspected of failing, so all
/// processes with the same list write on the same Galera node and never meet in a certification
/// conflict. A failed node is probed in the background every half second, off the request
/// threads, and becomes preferred again once it takes connections as a synced node.
public final class MariaDBNodeHealth: Sendable {
    private struct State {
        var suspected: [Bool]
        var probing = false
    }

    private let state: Mutex<State>
    /// Read on every transaction start; written under `state`'s lock only.
    private let preferred = Atomic<Int>(0)
    private static let probeQueue = DispatchQueue(label: "stockroom.mariadb.node-probe")
    static let probeIntervalMilliseconds = 500

    init(nodeCount: Int) {
        state = Mutex(State(suspected: Array(repeating: false, count: max(nodeCount, 1))))
    }

    /// The node new transactions should run on.
    public var preferredNode: Int { preferred.load(ordering: .relaxed) }

    public func isSuspected(_ node: Int) -> Bool {
        state.withLock { $0.suspected.indices.contains(node) && $0.suspected[node] }
    }

    /// Nodes in the order a connection tries them: the unsuspected in list order, then the rest.
    func connectionOrder() -> [Int] {
        state.withLock { state in
            let nodes = Array(state.suspected.indices)
            return nodes.filter { !state.suspected[$0] } + nodes.filter { state.suspected[$0] }
        }
    }

    /// A connection to `node` passed its checks. Returns whether the node was suspected until now.
    @discardableResult
    func recordUsable(_ node: Int) -> Bool {
        state.withLock { state in
            guard state.suspected[node] else { return false }
            state.suspected[node] = false
            publishPreferred(state)
            return true
        }
    }

    /// `node` refused or lost a connection: connections leave it, and it is probed until it is back.
    func recordFailed(_ node: Int, configuration: MariaDBConfiguration, logger: Logger) {
        let startProbing: Bool = state.withLock { state in
            guard state.suspected.count > 1 else { return false }  // one server: nowhere else to go
            if !state.suspected[node] {
                state.suspected[node] = true
                publishPreferred(state)
            }
            guard !state.probing else { return false }
            state.probing = true
            return true
        }
        if startProbing {
            // A probe-only copy: its endpoints get a health of their own, so the queued probe does
            // not keep this one alive after a reload replaced it.
            var probeConfiguration = configuration
            probeConfiguration.endpoints = configuration.endpoints
            scheduleProbe(probeConfiguration, logger: logger)
        }
    }

    private func publishPreferred(_ state: State) {
        preferred.store(state.suspected.firstIndex(of: false) ?? 0, ordering: .relaxed)
    }

    private func scheduleProbe(_ configuration: MariaDBConfiguration, logger: Logger) {
        Self.probeQueue.asyncAfter(deadline: .now() + .milliseconds(Self.probeIntervalMilliseconds)) { [weak self] in
            self?.probe(configuration, logger: logger)
        }
    }

    private func probe(_ configuration: MariaDBConfiguration, logger: Logger) {
        let suspected = state.withLock { state in state.suspected.indices.filter { state.suspected[$0] } }
        MariaDBConnection.initializeThread()
        for node in suspected {
            if (try? MariaDBConnection(configuration: configuration, node: node)) != nil, recordUsable(node) {
                logger.notice("database node usable again", metadata: ["db.node": "\(configuration.endpoints[node])"])
            }
        }
        MariaDBConnection.finishThread()
        let again = state.withLock { state in
            state.probing = state.suspected.contains(true)
            return state.probing
        }
        if again { scheduleProbe(configuration, logger: logger) }
    }
}
