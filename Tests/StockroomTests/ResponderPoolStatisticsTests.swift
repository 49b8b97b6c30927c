import Testing
@testable import FastCGI

/// The pool's counts behind its metrics: busy, idle and accepting threads, accepted connections,
/// saturation events and the longest listen queue.
@Suite struct ResponderPoolStatisticsTests {
    private func pool(_ count: Int) -> ResponderPoolState {
        var state = ResponderPoolState()
        for index in state.install(threadCount: count, now: 0) {
            state.threadStarted(index)
            state.enter(.idle, index, connection: -1, now: 0)
        }
        return state
    }

    @Test func threadsAreBusyIdleOrAccepting() {
        var state = pool(3)
        #expect((state.busyCount, state.idleCount, state.acceptingCount) == (0, 3, 3))
        state.accepted(0, connection: 10, now: 1)  // waits for the connection's first request
        #expect((state.busyCount, state.idleCount, state.acceptingCount) == (0, 3, 2))
        state.enter(.reading, 0, now: 1)
        state.enter(.handling, 0, now: 1)
        #expect((state.busyCount, state.idleCount, state.acceptingCount) == (1, 2, 2))
        state.enter(.idle, 0, connection: 10, now: 2)  // kept alive: idle, but not accepting
        #expect((state.busyCount, state.idleCount, state.acceptingCount) == (0, 3, 2))
        #expect(state.acceptedConnections == 1)
    }

    @Test func takingTheLastAcceptingThreadIsASaturationEvent() {
        var state = pool(2)
        state.accepted(0, connection: 10, now: 1)
        #expect(state.saturationEvents == 0, "one thread still accepts")
        state.accepted(1, connection: 11, now: 1)
        #expect(state.saturationEvents == 1)
        // A thread back in accept() and taken again: a second event.
        state.enter(.idle, 1, connection: -1, now: 2)
        state.accepted(1, connection: 12, now: 3)
        #expect(state.saturationEvents == 2)
        #expect(state.acceptedConnections == 3)
    }

    @Test func aStoppingPoolCountsNoSaturation() {
        var state = pool(1)
        state.stop()
        state.accepted(0, connection: 10, now: 1)
        #expect(state.saturationEvents == 0)
        #expect(state.acceptedConnections == 1)
    }

    @Test func theLongestListenQueueIsKept() {
        var state = pool(1)
        state.sampledListenQueue(3)
        state.sampledListenQueue(9)
        state.sampledListenQueue(0)
        #expect(state.maxListenQueue == 9)
    }

    @Test func exitedThreadsAreNeitherBusyNorIdle() {
        var state = pool(2)
        state.enter(.handling, 1, now: 1)
        state.exited(1)
        #expect((state.busyCount, state.idleCount, state.acceptingCount) == (0, 1, 1))
    }
}
