import Foundation
import Testing
import StockroomRuntime

/// Keeps the two documents operators configure Stockroom from in step with the code's catalogue of
/// settings (`Setting.all`):
/// - docs/configuration.md carries the table `Setting.markdownTable()` renders, between its
///   `<!-- settings:begin -->` and `<!-- settings:end -->` lines (`make settings-doc` rewrites it);
/// - systemd/stockroom.env.example, which becomes /etc/stockroom/stockroom.env, names every setting
///   and nothing else.
@Suite struct SettingsDocumentationTests {
    /// The repository, found from this file: Tests/StockroomRuntimeTests/<this file>.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
    }

    /// The lines strictly between the two marker lines, each followed by a newline.
    static func tableBetweenMarkers(in document: String) -> String? {
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false)
        guard let begin = lines.firstIndex(of: "<!-- settings:begin -->"),
              let end = lines[begin...].firstIndex(of: "<!-- settings:end -->")
        else { return nil }
        return lines[(begin + 1)..<end].map { $0 + "\n" }.joined()
    }

    /// `NAME=value` lines of the example, set (`NAME=value`) or commented out (`#NAME=value`).
    /// Prose comments (`# NAME: …`, `# … NAME x NAME …`) are not assignments and are skipped.
    static func assignments(in example: String) -> [(name: String, value: String, commented: Bool)] {
        example.split(separator: "\n").compactMap { rawLine in
            var line = Substring(rawLine)
            let commented = line.hasPrefix("#")
            if commented { line = line.dropFirst() }
            guard let equals = line.firstIndex(of: "=") else { return nil }
            let name = line[..<equals]
            guard let first = name.first, first.isUppercase,
                  name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" })
            else { return nil }
            return (String(name), String(line[line.index(after: equals)...]), commented)
        }
    }

    @Test func configurationTableIsTheCataloguesTable() throws {
        let document = try Self.text("docs/configuration.md")
        let table = try #require(
            Self.tableBetweenMarkers(in: document),
            "docs/configuration.md lacks the <!-- settings:begin --> / <!-- settings:end --> lines")
        let rendered = Setting.markdownTable()
        guard table != rendered else { return }
        // Name the first line that differs rather than printing both tables.
        func lines(_ text: String) -> [String] {
            text.dropLast(text.hasSuffix("\n") ? 1 : 0).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init)
        }
        let documented = lines(table)
        let expected = lines(rendered)
        let line = documented.indices.first(where: { $0 >= expected.count || documented[$0] != expected[$0] })
            ?? documented.count
        let documentedLine = line < documented.count ? documented[line] : "(end of the table)"
        let expectedLine = line < expected.count ? expected[line] : "(end of the table)"
        let message = "docs/configuration.md's settings table differs from the code's catalogue at table line "
            + "\(line + 1) (run `make settings-doc`)\n  docs: \(documentedLine)\n  code: \(expectedLine)"
        Issue.record(Comment(rawValue: message))
    }

    /// Which settings the example must name: all of the catalogue except STOCKROOM_ENV_FILE. That one
    /// names the file the example becomes (the units set it, and a value inside the file could not
    /// take effect: the file cannot name another file). Settings an operator must not set in
    /// production (STOCKROOM_SOCKET, which each unit sets per instance, and STOCKROOM_TEST_HOOKS)
    /// are still listed, commented out, next to the warning that says why.
    static let notInTheExample: Set<String> = [Setting.environmentFile.name]

    @Test func environmentExampleNamesEverySettingAndNothingElse() throws {
        let named = Self.assignments(in: try Self.text("systemd/stockroom.env.example"))
        let names = named.map(\.name)
        let catalogue = Set(Setting.all.map(\.name))
        let expected = catalogue.subtracting(Self.notInTheExample)

        let unknown = Set(names).subtracting(catalogue)
        #expect(unknown.isEmpty, "systemd/stockroom.env.example names variables no program reads: \(unknown.sorted())")
        let missing = expected.subtracting(names)
        #expect(missing.isEmpty, "systemd/stockroom.env.example lacks these settings: \(missing.sorted())")
        let excluded = Set(names).intersection(Self.notInTheExample)
        #expect(excluded.isEmpty, "systemd/stockroom.env.example must not set \(excluded.sorted())")
        let repeated = Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(repeated.isEmpty, "systemd/stockroom.env.example names these more than once: \(repeated.sorted())")
    }

    /// A commented-out `#NAME=value` line reads as "the default"; where the code has a default, it
    /// must be that one. (Settings without a default, such as STOCKROOM_SOCKET_GROUP, show an example
    /// value instead.)
    @Test func environmentExampleCommentsShowTheDefaults() throws {
        let named = Self.assignments(in: try Self.text("systemd/stockroom.env.example"))
        let defaults = Dictionary(uniqueKeysWithValues: Setting.all.map { ($0.name, $0.defaultText) })
        for assignment in named where assignment.commented {
            guard let defaultText = defaults[assignment.name], !defaultText.isEmpty else { continue }
            #expect(
                assignment.value == defaultText,
                "systemd/stockroom.env.example: #\(assignment.name)=\(assignment.value), but the default is \(defaultText)")
        }
    }
}
