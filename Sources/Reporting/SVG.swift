import Foundation

/// Small helpers for writing SVG and HTML by hand (no dependencies, deterministic output).
enum SVG {
    /// Escapes text for HTML/SVG element content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with at most one decimal, so files stay small and identical across platforms.
    static func num(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        if r == r.rounded() { return String(Int(r)) }
        return String(format: "%.1f", r)
    }

    /// Round tick values (1, 2, 5 × 10^k) covering `lo...hi` with about `count` ticks.
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 8) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let mag = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi + step * 1e-9 {
            out.append(v)
            v += step
        }
        return out
    }

    /// Axis tick label precise enough to tell ticks `step` apart: `1.798s`, `1.8s`, `250ms`.
    static func timeLabel(_ ns: Double, step: Double) -> String {
        let a = abs(ns)
        let (scale, unit) = a >= 1e9 ? (1e9, "s") : a >= 1e6 ? (1e6, "ms") : a >= 1e3 ? (1e3, "µs") : (1.0, "ns")
        let decimals = max(0, min(6, Int((-log10(step / scale)).rounded(.up))))
        var t = String(format: "%.\(decimals)f", ns / scale)
        if t.contains(".") {
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
        }
        return t + unit
    }

    /// Short time label for axis ticks: `250ms`, `1.5s`, `40µs`.
    static func timeLabel(_ ns: Double) -> String {
        let a = abs(ns)
        func trim(_ x: Double) -> String {
            let s = String(format: "%.2f", x)
            var t = s
            while t.hasSuffix("0") { t.removeLast() }
            if t.hasSuffix(".") { t.removeLast() }
            return t
        }
        if a >= 1e9 { return trim(ns / 1e9) + "s" }
        if a >= 1e6 { return trim(ns / 1e6) + "ms" }
        if a >= 1e3 { return trim(ns / 1e3) + "µs" }
        return trim(ns) + "ns"
    }

    /// Fixed colours for the message types of the shipped protocols, so the same type has the same
    /// colour in every report; other types take the next colour of `palette`.
    static let knownTypeColours: [String: String] = [
        "REQUEST": "#8a94a6", "REPLY": "#5fa8a0",
        "PRE-PREPARE": "#2f6fdf", "PREPARE": "#2e9e4f", "COMMIT": "#8e44ad", "CHECKPOINT": "#b07a2a",
        "VIEW-CHANGE": "#d63c3c", "NEW-VIEW": "#e8841a",
        "PROPOSAL": "#2f6fdf", "VOTE": "#2e9e4f", "TIMEOUT": "#d63c3c",
        "SYNC-REQUEST": "#b07a2a", "SYNC-RESPONSE": "#c9a227", "FETCH": "#b07a2a", "STATE": "#c9a227",
    ]
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func colours(for types: [String]) -> [String: String] {
        var out: [String: String] = [:]
        var next = 0
        for t in types.sorted() {
            if let c = knownTypeColours[t] { out[t] = c; continue }
            out[t] = palette[next % palette.count]
            next += 1
        }
        return out
    }

    /// Pastel fill for view `v` in the timeline (neighbouring views differ).
    static func viewFill(_ v: UInt64) -> String {
        let fills = ["#dbe8fb", "#e3f3df", "#fbe9d3", "#ece1f6", "#d9f1f1", "#f6e0e6"]
        return fills[Int(v % UInt64(fills.count))]
    }

    /// An identifier-safe form of a message type for SVG ids.
    static func ident(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
