import Testing
@testable import StockroomRuntime

/// The families read at scrape time, as text, and what the exposition puts together.
@Suite struct MetricsExpositionTests {
    private func text(_ family: ScrapedFamily) -> String {
        var buffer: [UInt8] = []
        family.write(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    @Test func aFamilyHasItsHelpTypeAndSamples() {
        let family = ScrapedFamily("stockroom_things_total", .counter, help: "Things seen.", samples: [
            .init(3, labels: [.init("kind", "a")]),
            .init(0.25, labels: [.init("kind", "b"), .init("size", "l")]),
        ])
        #expect(text(family) == """
            # HELP stockroom_things_total Things seen.
            # TYPE stockroom_things_total counter
            stockroom_things_total{kind="a"} 3
            stockroom_things_total{kind="b",size="l"} 0.25

            """)
    }

    @Test func helpAndLabelValuesAreEscaped() {
        let family = ScrapedFamily("x", .gauge, help: "back\\slash\nnewline",
                                   samples: [.init(1, labels: [.init("path", "a\"b\\c\nd")])])
        #expect(text(family) == "# HELP x back\\\\slash\\nnewline\n# TYPE x gauge\nx{path=\"a\\\"b\\\\c\\nd\"} 1\n")
    }

    @Test func valuesAreWrittenAsPrometheusReadsThem() {
        #expect(ScrapedFamily.format(12) == "12")
        #expect(ScrapedFamily.format(-3) == "-3")
        #expect(ScrapedFamily.format(0.5) == "0.5")
        #expect(ScrapedFamily.format(1_796_526_335.88) == "1796526335.88")
        #expect(ScrapedFamily.format(.nan) == "NaN")
        #expect(ScrapedFamily.format(.infinity) == "+Inf")
        #expect(ScrapedFamily.format(-.infinity) == "-Inf")
        #expect(Double(ScrapedFamily.format(1e-5)) == 1e-5)
    }

    @Test func theExpositionHasTheRegistryTheProcessTheBuildAndWhatWasAdded() {
        let exposition = MetricsExposition()
        exposition.registry.makeCounter(descriptor: .init(namespace: "stockroom", subsystem: "test", metricName: "events",
                                                          unitName: "total", helpText: "Events.")).increment()
        exposition.add { [ScrapedFamily("stockroom_test_level", .gauge, help: "A level.", value: 7)] }
        let text = String(decoding: exposition.text(), as: UTF8.self)
        for line in ["stockroom_test_events_total 1", "stockroom_test_level 7",
                     "stockroom_build_info{version=\"\(StockroomVersion.current)\"} 1", "# TYPE process_cpu_seconds_total counter"] {
            #expect(text.contains(line + "\n"), "missing \(line)")
        }
        // Every family announced with a TYPE line has a HELP line first.
        let lines = text.split(separator: "\n")
        for (index, line) in lines.enumerated() where line.hasPrefix("# TYPE ") {
            let name = line.split(separator: " ")[2]
            #expect(index > 0 && lines[index - 1].hasPrefix("# HELP \(name) "), "no HELP before \(line)")
        }
    }

    @Test func theVersionIsStamped() {
        #expect(!StockroomVersion.current.isEmpty)
        #expect(StockroomVersion.current.allSatisfy { $0.isLetter || $0.isNumber || "._+-".contains($0) })
    }
}
