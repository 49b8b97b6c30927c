/// A metric family whose values are read when it is scraped (from /proc, from the pool's
/// bookkeeping, from the worker's last backlog count) rather than recorded as they happen, written
/// in the Prometheus text format with its HELP and TYPE lines.
public struct ScrapedFamily: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case counter, gauge
    }

    public struct Sample: Sendable, Equatable {
        public var labels: [Label]
        public var value: Double

        public init(_ value: Double, labels: [Label] = []) {
            self.value = value
            self.labels = labels
        }
    }

    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public let name: String
    public let kind: Kind
    public let help: String
    public var samples: [Sample]

    public init(_ name: String, _ kind: Kind, help: String, samples: [Sample]) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    /// One unlabelled sample.
    public init(_ name: String, _ kind: Kind, help: String, value: Double) {
        self.init(name, kind, help: help, samples: [Sample(value)])
    }

    public func write(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: "# HELP \(name) ".utf8)
        Self.append(help, escaping: [UInt8(ascii: "\\"), UInt8(ascii: "\n")], to: &buffer)
        buffer.append(contentsOf: "\n# TYPE \(name) \(kind.rawValue)\n".utf8)
        for sample in samples {
            buffer.append(contentsOf: name.utf8)
            if !sample.labels.isEmpty {
                buffer.append(UInt8(ascii: "{"))
                for (index, label) in sample.labels.enumerated() {
                    if index > 0 { buffer.append(UInt8(ascii: ",")) }
                    buffer.append(contentsOf: "\(label.name)=\"".utf8)
                    Self.append(label.value, escaping: [UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "\n")], to: &buffer)
                    buffer.append(UInt8(ascii: "\""))
                }
                buffer.append(UInt8(ascii: "}"))
            }
            buffer.append(UInt8(ascii: " "))
            buffer.append(contentsOf: Self.format(sample.value).utf8)
            buffer.append(UInt8(ascii: "\n"))
        }
    }

    /// Whole numbers without a fraction (`12`, not `12.0`); the rest as Swift's shortest round-trip
    /// form, which Prometheus parses (`0.25`, `1e-05`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 9_007_199_254_740_992 { return String(Int64(value)) }
        return String(value)
    }

    private static func append(_ text: String, escaping special: [UInt8], to buffer: inout [UInt8]) {
        for byte in text.utf8 {
            if special.contains(byte) {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: "n") : byte)
            } else {
                buffer.append(byte)
            }
        }
    }
}
