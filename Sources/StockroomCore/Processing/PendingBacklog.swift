/// The orders waiting for a worker: how many, and when the first in line (the lowest pending id,
/// which the workers claim first) was placed.
public struct PendingBacklog: Sendable, Equatable {
    public var count: Int64
    public var oldestCreatedAt: Timestamp?

    public init(count: Int64, oldestCreatedAt: Timestamp?) {
        self.count = count
        self.oldestCreatedAt = oldestCreatedAt
    }

    /// Seconds the first pending order has waited at `now`; 0 with nothing pending (and never below
    /// 0 when clocks disagree).
    public func oldestAgeSeconds(at now: Timestamp) -> Int64 {
        guard count > 0, let oldestCreatedAt else { return 0 }
        return max(0, now.secondsSinceEpoch - oldestCreatedAt.secondsSinceEpoch)
    }
}
