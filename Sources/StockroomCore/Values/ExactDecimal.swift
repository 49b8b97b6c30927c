/// A decimal number read exactly from its text (JSON number literal or DECIMAL column):
/// digits × 10^exponent, with no binary rounding anywhere.
public struct ExactDecimal: Sendable {
    public var negative: Bool
    public var digits: [UInt8]  // without leading zeros; empty means zero
    public var exponent: Int

    public init?(literal: String) {
        var bytes = Array(literal.utf8)[...]
        negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        var mantissa: [UInt8] = []
        var exponent = 0
        var seenPoint = false
        var seenDigit = false
        while let byte = bytes.first, byte != UInt8(ascii: "e"), byte != UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if byte == UInt8(ascii: ".") {
                if seenPoint { return nil }
                seenPoint = true
            } else if byte >= 0x30 && byte <= 0x39 {
                seenDigit = true
                mantissa.append(byte - 0x30)
                if seenPoint { exponent -= 1 }
            } else {
                return nil
            }
        }
        guard seenDigit else { return nil }
        if let marker = bytes.first, marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            var exponentNegative = false
            if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                exponentNegative = sign == UInt8(ascii: "-")
                bytes = bytes.dropFirst()
            }
            guard !bytes.isEmpty else { return nil }
            var value = 0
            for byte in bytes {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = min(value * 10 + Int(byte - 0x30), 1_000_000)  // saturate: 1e999999 is just "huge"
            }
            exponent += exponentNegative ? -value : value
        }
        while let first = mantissa.first, first == 0 { mantissa.removeFirst() }
        while let last = mantissa.last, last == 0 { mantissa.removeLast(); exponent += 1 }
        self.digits = mantissa
        self.exponent = mantissa.isEmpty ? 0 : exponent
    }

    public var isZero: Bool { digits.isEmpty }

    /// A whole number (no fractional digits), however large.
    public var isIntegral: Bool { exponent >= 0 || digits.isEmpty }

    /// The value × 10^decimals as an integer, or nil when it has more decimals than that or does
    /// not fit in Int64.
    public func scaled(toDecimals decimals: Int) -> Int64? {
        if digits.isEmpty { return 0 }
        let shift = exponent + decimals
        guard shift >= 0, digits.count + shift <= 19 else { return nil }
        // Accumulated as a negative number: Int64.min has no positive counterpart.
        var value: Int64 = 0
        for digit in digits + Array(repeating: 0, count: shift) {
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (next, underflowed) = shifted.subtractingReportingOverflow(Int64(digit))
            if overflowed || underflowed { return nil }
            value = next
        }
        if negative { return value }
        return value == Int64.min ? nil : -value
    }
}
