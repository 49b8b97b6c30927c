import Glibc
import Logging
import Testing
@testable import StockroomRuntime

/// What the fake services saw, in order.
private final class Journal {
    var events: [String] = []
}

private final class FakeService: DaemonService {
    let name: String
    private let journal: Journal
    private let failsToStart: Bool

    init(_ name: String, journal: Journal, failsToStart: Bool = false) {
        self.name = name
        self.journal = journal
        self.failsToStart = failsToStart
    }

    struct StartFailure: Error {}

    func start() throws {
        if failsToStart { throw StartFailure() }
        journal.events.append("start \(name)")
    }

    func reload(signal: String) { journal.events.append("reload \(name) \(signal)") }
    func shutdown() { journal.events.append("shutdown \(name)") }
}

@Suite struct ServiceRunnerTests {
    private static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    private static func runner(_ services: [FakeService], signals: [Int32]) -> ServiceRunner {
        var pending = signals
        return ServiceRunner(services: services, systemd: SystemdNotifier(environment: [:]), logger: logger,
                             nextSignal: { pending.removeFirst() })
    }

    @Test func startsInOrderReloadsEveryServiceAndStopsInReverse() throws {
        let journal = Journal()
        let services = ["pool", "watchdog"].map { FakeService($0, journal: journal) }
        try Self.runner(services, signals: [SIGHUP, SIGUSR1, SIGUSR2, SIGTERM]).run()
        #expect(journal.events == [
            "start pool", "start watchdog",
            "reload pool SIGHUP", "reload watchdog SIGHUP",
            "reload pool SIGUSR2", "reload watchdog SIGUSR2",
            "shutdown watchdog", "shutdown pool",
        ])
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGQUIT])
    func everyStopSignalEndsTheRun(signal: Int32) throws {
        let journal = Journal()
        try Self.runner([FakeService("pool", journal: journal)], signals: [signal]).run()
        #expect(journal.events == ["start pool", "shutdown pool"])
    }

    @Test func aStartFailureStopsWhatStartedAndWaitsForNoSignal() {
        let journal = Journal()
        let services = [FakeService("pool", journal: journal), FakeService("metrics", journal: journal),
                        FakeService("watchdog", journal: journal, failsToStart: true)]
        #expect(throws: FakeService.StartFailure.self) {
            try Self.runner(services, signals: []).run()
        }
        #expect(journal.events == ["start pool", "start metrics", "shutdown metrics", "shutdown pool"])
    }
}
