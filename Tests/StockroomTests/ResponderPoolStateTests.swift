import Testing
@testable import FastCGI

/// The pool's bookkeeping across reloads, driven the way the threads drive it.
@Suite struct ResponderPoolStateTests {
    /// A started pool of `count` threads, each idle in accept().
    private func pool(_ count: Int) -> ResponderPoolState {
        var state = ResponderPoolState()
        let started = state.install(threadCount: count, now: 0)
        #expect(started == Array(0..<count))
        for index in started {
            state.threadStarted(index)
            state.enter(.idle, index, connection: -1, now: 0)
            let next = state.next(index)
            #expect(next == .carryOn)
        }
        return state
    }

    @Test func aReloadMovesEachThreadAtItsNextBoundary() {
        var state = pool(3)
        state.enter(.idle, 1, connection: 7, now: 1)  // thread 1 has a kept-alive connection
        state.enter(.handling, 2, now: 1)  // thread 2 is answering a request
        let started = state.install(threadCount: 3, now: 2)
        #expect(started.isEmpty, "same thread count: no thread to start")
        #expect(state.generation == 2)

        // Only the thread blocked in accept() needs the wake-up signal.
        #expect(state.wakeTargets == [0])
        state.enter(.idle, 0, connection: -1, now: 2)
        let woken = state.next(0)
        #expect(woken == .switchGeneration)
        #expect(state.wakeTargets.isEmpty)

        // The kept-alive connection is not closed: the next request on it is served by the new generation.
        let first = state.switchBeforeServing(1)
        let second = state.switchBeforeServing(1)
        #expect(first && !second)
        #expect(state.slots[1].connection == 7)
        let early = state.finishRollover(now: 3)
        #expect(early == nil, "thread 2 still holds the old generation")

        // The request in flight finishes with the old responder; the switch comes after it.
        state.enter(.writing, 2, now: 3)
        state.enter(.idle, 2, connection: 9, now: 4)
        let afterRequest = state.next(2)
        #expect(afterRequest == .switchGeneration)
        let took = state.finishRollover(now: 4.5)
        #expect(took == 2.5)
        let again = state.finishRollover(now: 5)
        #expect(again == nil, "reported once")
    }

    @Test func growingStartsThreadsOnTheNewSlotsOnly() {
        var state = pool(2)
        let started = state.install(threadCount: 4, now: 1)
        #expect(started == [2, 3])
        #expect(state.runningCount == 4)
        state.threadStarted(2)
        #expect(state.slots[2].generation == 2)
    }

    @Test func shrinkingEndsSurplusThreadsOnceTheyHaveNoConnection() {
        var state = pool(4)
        state.enter(.idle, 3, connection: 11, now: 0)  // thread 3 serves a kept-alive connection
        let started = state.install(threadCount: 2, now: 1)
        #expect(started.isEmpty)
        #expect(state.wakeTargets == [0, 1, 2])

        state.enter(.idle, 2, connection: -1, now: 1)
        let surplusIdle = state.next(2)
        #expect(surplusIdle == .exit)
        state.exited(2)
        // The surplus thread with a connection serves it to its end, with the new generation.
        state.enter(.idle, 3, connection: 11, now: 1)
        let surplusBusy = state.next(3)
        #expect(surplusBusy == .switchGeneration)
        state.enter(.idle, 3, connection: -1, now: 2)  // nginx closed it
        let surplusDone = state.next(3)
        #expect(surplusDone == .exit)
        state.exited(3)
        for index in [0, 1] {
            state.enter(.idle, index, connection: -1, now: 2)
            let next = state.next(index)
            #expect(next == .switchGeneration)
        }
        let took = state.finishRollover(now: 3)
        #expect(took == 2)
        #expect(state.runningCount == 2)
    }

    @Test func growingAgainReusesAFinishedSlotButNotARunningOne() {
        var state = pool(3)
        state.enter(.idle, 2, connection: 5, now: 0)
        _ = state.install(threadCount: 1, now: 1)
        state.enter(.idle, 1, connection: -1, now: 1)
        let surplus = state.next(1)
        #expect(surplus == .exit)
        state.exited(1)
        // Slot 2 still serves its connection: it becomes a regular thread again, no second thread.
        let started = state.install(threadCount: 3, now: 2)
        #expect(started == [1])
    }

    @Test func aStopEndsThreadsWithoutAConnectionAndServesTheOthers() {
        var state = pool(2)
        state.enter(.idle, 1, connection: 4, now: 0)
        state.stop()
        state.enter(.idle, 0, connection: -1, now: 1)
        let accepting = state.next(0)
        #expect(accepting == .exit)
        state.enter(.idle, 1, connection: 4, now: 1)
        let keptAlive = state.next(1)
        #expect(keptAlive == .carryOn)
        #expect(state.idleThreads == [0, 1])
    }

    @Test func completedRequestsCountReturnsToIdle() {
        var state = pool(1)
        state.enter(.reading, 0, now: 1)
        state.enter(.handling, 0, now: 1)
        state.enter(.writing, 0, now: 1)
        state.enter(.idle, 0, connection: 3, now: 1)
        state.enter(.idle, 0, connection: 3, now: 2)
        #expect(state.completedRequests == 1)
        #expect(state.idleCount == 1)
    }

    @Test func silentPeersAreTheWaitsNoRequestExplains() {
        var state = pool(4)
        state.enter(.idle, 0, connection: 10, now: 0)  // idle kept-alive, nothing pending
        state.enter(.idle, 1, connection: 11, now: 0)  // idle kept-alive, a request waiting
        state.enter(.reading, 2, now: 0)
        state.enter(.handling, 3, now: 0)
        let stuck = state.silentPeers(now: 5, timeout: 3, overslept: false) { $0 == 11 }
        #expect(stuck == [0, 2])
        let restarted = state.silentPeers(now: 6, timeout: 3, overslept: false) { $0 == 11 }
        #expect(restarted.isEmpty, "their clocks restarted")
        let overslept = state.silentPeers(now: 20, timeout: 3, overslept: true) { _ in false }
        #expect(overslept.isEmpty)
    }
}
