import Testing
@testable import StockroomCore
@testable import StockroomHTTP

@Suite struct TimestampTests {
    /// An independent UTC calendar (Howard Hinnant's civil_from_days) to check gmtime against.
    private func civil(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) "
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
    }

    @Test func epoch() {
        let zero = Timestamp(secondsSinceEpoch: 0)
        #expect(zero.rfc3339 == "1970-01-01T00:00:00Z")
        #expect(zero.databaseText == "1970-01-01 00:00:00")
    }

    @Test func contractExample() {
        let instant = Timestamp(secondsSinceEpoch: 1_767_967_593)
        #expect(instant.rfc3339 == "2026-01-09T14:06:33Z")
        #expect(instant.databaseText == "2026-01-09 14:06:33")
        #expect(civil(1_767_967_593) == "2026-01-09 14:06:33")  // the oracle agrees with `date -u`
    }

    @Test(arguments: [
        (Int64(-1), "1969-12-31 23:59:59"), (951_782_400, "2000-02-29 00:00:00"), (1_709_251_199, "2024-02-29 23:59:59"),
        (2_147_483_647, "2038-01-19 03:14:07"), (2_147_483_648, "2038-01-19 03:14:08"), (4_102_444_799, "2099-12-31 23:59:59"),
        (253_402_300_799, "9999-12-31 23:59:59"),
    ])
    func knownInstants(_ seconds: Int64, _ expected: String) {
        #expect(civil(seconds) == expected)
        let instant = Timestamp(secondsSinceEpoch: seconds)
        #expect(instant.databaseText == expected)
        #expect(instant.rfc3339 == expected.replacing(" ", with: "T") + "Z")
    }

    @Test func agreesWithTheOracleAcrossCenturies() {
        var seconds: Int64 = -2_208_988_800  // 1900-01-01
        while seconds < 4_102_444_800 {      // 2100-01-01
            #expect(Timestamp(secondsSinceEpoch: seconds).databaseText == civil(seconds))
            seconds += 7_777_777  // about 90 days, landing on every time of day over the run
        }
    }

    @Test func parsesDatabaseText() {
        #expect(Timestamp(databaseText: "2026-01-09 14:06:33")?.secondsSinceEpoch == 1_767_967_593)
        #expect(Timestamp(databaseText: "1970-01-01 00:00:00")?.secondsSinceEpoch == 0)
        #expect(Timestamp(databaseText: "1969-12-31 23:59:59")?.secondsSinceEpoch == -1)
    }

    @Test(arguments: [".0", ".5", ".123456", ".999999"])
    func fractionalSecondsAreDropped(_ fraction: String) {
        #expect(Timestamp(databaseText: "2026-01-09 14:06:33" + fraction)?.secondsSinceEpoch == 1_767_967_593)
    }

    @Test(arguments: ["", "2026-01-09", "2026-01-09 14:06", "2026-01-09 14:06:3", "2026-01-09 14:06:3x", "20x6-01-09 14:06:33",
                      "abcd-ef-gh ij:kl:mn"])
    func rejectsText(_ text: String) {
        #expect(Timestamp(databaseText: text) == nil)
    }

    @Test(arguments: [Int64(0), 1, 59, 86_399, 86_400, 951_782_400, 1_767_967_593, 2_147_483_648, 4_102_444_799, -86_401])
    func roundTrip(_ seconds: Int64) {
        let instant = Timestamp(secondsSinceEpoch: seconds)
        #expect(Timestamp(databaseText: instant.databaseText) == instant)
    }

    @Test func arithmeticAndOrder() {
        let start = Timestamp(secondsSinceEpoch: 1_767_967_593)
        let later = start.adding(seconds: 3600)
        #expect(later.rfc3339 == "2026-01-09T15:06:33Z")
        #expect(start < later)
        #expect(!(later < start))
        #expect(start.adding(seconds: -1_767_967_593) == Timestamp(secondsSinceEpoch: 0))
    }

    @Test func nowIsRecent() {
        let now = Timestamp.now()
        #expect(now > Timestamp(secondsSinceEpoch: 1_577_836_800))  // after 2020-01-01
        #expect(now < Timestamp(secondsSinceEpoch: 4_102_444_800))
    }
}
