import BFTCore

/// Durations in scenario files: a decimal number and a unit, or a plain integer of nanoseconds.
enum DurationSyntax {
    /// Units, longest suffix first so `ms` is not read as `m`.
    static let units: [(suffix: String, nanos: Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// Parses `150ms`, `2s`, `500us`, `10ns`, `1.5s`, `2m`, `-5ms` (negative values are returned, so the
    /// caller can say "negative" rather than "malformed"); a plain integer is nanoseconds. `nil` when
    /// malformed, when the value is not a whole number of nanoseconds, or on overflow.
    static func parse(_ input: String) -> Nanoseconds? {
        var s = Substring(input.trimmingWhitespace())
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() } else if s.first == "+" { s = s.dropFirst() }
        var multiplier: Int64 = 1
        var hasUnit = false
        for unit in units where s.hasSuffix(unit.suffix) {
            let number = s.dropLast(unit.suffix.count)
            // "5m" ends with "m" but so does nothing else; "5ms" must match "ms" (checked first).
            guard let last = number.last, last.isASCII, last.isNumber || last == " " else { continue }
            multiplier = unit.nanos
            hasUnit = true
            s = number
            break
        }
        while s.last == " " { s = s.dropLast() }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 1 || (parts.count == 2 && hasUnit) else { return nil }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        guard parts.count == 1 || (!fraction.isEmpty && fraction.allSatisfy(\.isASCIIDigit)) else { return nil }
        guard let wholeValue = Int64(whole) else { return nil }
        var (total, overflow) = wholeValue.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        // The fraction must resolve to whole nanoseconds: 1.5s is fine, 1.5ns is not.
        var scale = multiplier
        for digit in fraction {
            let d = Int64(digit.asciiValue! - 48)
            guard scale % 10 == 0 else {
                if d != 0 { return nil }
                continue
            }
            scale /= 10
            (total, overflow) = total.addingReportingOverflow(d * scale)
            guard !overflow else { return nil }
        }
        return negative ? -total : total
    }

    /// The canonical spelling: the largest unit that divides the value exactly (`1500ms`, `2s`, `0s`).
    static func format(_ value: Nanoseconds) -> String {
        if value == 0 { return "0s" }
        for unit in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000),
                     ("ms", 1_000_000), ("us", 1_000)] where value % unit.1 == 0 {
            return "\(value / unit.1)\(unit.0)"
        }
        return "\(value)ns"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
