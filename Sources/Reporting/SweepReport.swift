import Foundation
import PerformanceModel

/// The HTML report of a performance sweep (issue 15): throughput against load and against n with the
/// fitted Universal Scalability Law and the queueing model drawn over the points, latency against
/// throughput, the fits' parameters, and predicted against measured when live rows exist.
public enum SweepReport {
    public static func html(_ r: SweepResult) -> String {
        HTMLRenderer.page(title: "\(r.name) — bftsim sweep") {
            var h = "<section id=\"header\"><h1>Sweep \(SVG.escape(r.name))</h1>"
            h += "<p>\(r.rows.count) of \(r.pointsTotal) points\(r.shard.map { " (shard \($0))" } ?? ""). "
            h += r.notes.map(SVG.escape).joined(separator: "; ") + ".</p></section>\n"
            h += loadCharts(r) + sizeCharts(r) + latencyChart(r) + fitTable(r) + liveTable(r) + rowTable(r)
            return h
        }
    }

    struct Series {
        var name: String
        var points: [(Double, Double)]
        var lines: [(label: String, points: [(Double, Double)], dashed: Bool)]
        /// Measured live at the same points (drawn hollow).
        var measured: [(Double, Double)] = []
    }

    /// A linear-axes chart of point series with model curves.
    static func chart(id: String, title: String, xLabel: String, yLabel: String, _ series: [Series], note: String? = nil) -> String {
        let all = series.flatMap { $0.points + $0.measured + $0.lines.flatMap(\.points) }.filter { $0.0.isFinite && $0.1.isFinite }
        guard !all.isEmpty else { return "" }
        let (w, hgt, left, right, top, bottom) = (760.0, 340.0, 70.0, 200.0, 20.0, 40.0)
        let pw = w - left - right, ph = hgt - top - bottom
        let xMax = max(all.map(\.0).max()! * 1.05, 1e-9), yMax = max(all.map(\.1).max()! * 1.1, 1e-9)
        func x(_ v: Double) -> Double { left + min(1, max(0, v / xMax)) * pw }
        func y(_ v: Double) -> Double { top + ph - min(1, max(0, v / yMax)) * ph }
        var s = "<section id=\"\(id)\"><h2>\(SVG.escape(title))</h2>\n"
        s += "<svg viewBox=\"0 0 \(SVG.num(w)) \(SVG.num(hgt))\" width=\"\(SVG.num(w))\" role=\"img\" aria-label=\"\(SVG.escape(title))\">\n"
        for t in SVG.ticks(0, yMax, count: 5) {
            s += "<line x1=\"\(SVG.num(left))\" x2=\"\(SVG.num(left + pw))\" y1=\"\(SVG.num(y(t)))\" y2=\"\(SVG.num(y(t)))\" stroke=\"#e4e7ec\"/>"
            s += "<text x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(y(t) + 4))\" text-anchor=\"end\" font-size=\"11\">\(label(t))</text>\n"
        }
        for t in SVG.ticks(0, xMax, count: 8) {
            s += "<text x=\"\(SVG.num(x(t)))\" y=\"\(SVG.num(top + ph + 16))\" text-anchor=\"middle\" font-size=\"11\">\(label(t))</text>"
        }
        s += "<line x1=\"\(SVG.num(left))\" x2=\"\(SVG.num(left + pw))\" y1=\"\(SVG.num(top + ph))\" y2=\"\(SVG.num(top + ph))\" stroke=\"#667085\"/>"
        s += "<text x=\"\(SVG.num(left + pw / 2))\" y=\"\(SVG.num(hgt - 4))\" text-anchor=\"middle\" font-size=\"12\">\(SVG.escape(xLabel))</text>"
        s += "<text x=\"14\" y=\"\(SVG.num(top + ph / 2))\" transform=\"rotate(-90 14 \(SVG.num(top + ph / 2)))\" text-anchor=\"middle\" font-size=\"12\">\(SVG.escape(yLabel))</text>\n"
        for (i, se) in series.enumerated() {
            let colour = SVG.palette[i % SVG.palette.count]
            for line in se.lines where line.points.count > 1 {
                let path = line.points.filter { $0.1.isFinite }.map { "\(SVG.num(x($0.0))),\(SVG.num(y($0.1)))" }.joined(separator: " ")
                s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"\(line.dashed ? " stroke-dasharray=\"5 4\"" : "")><title>\(SVG.escape(se.name + " " + line.label))</title></polyline>\n"
            }
            for p in se.points {
                s += "<circle cx=\"\(SVG.num(x(p.0)))\" cy=\"\(SVG.num(y(p.1)))\" r=\"3.5\" fill=\"\(colour)\"><title>\(SVG.escape(se.name)): \(label(p.0)), \(label(p.1))</title></circle>"
            }
            for p in se.measured {
                s += "<circle cx=\"\(SVG.num(x(p.0)))\" cy=\"\(SVG.num(y(p.1)))\" r=\"4\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"><title>\(SVG.escape(se.name)) live: \(label(p.0)), \(label(p.1))</title></circle>"
            }
            let ly = top + 14 + Double(i) * 16
            s += "<circle cx=\"\(SVG.num(w - right + 14))\" cy=\"\(SVG.num(ly - 4))\" r=\"4\" fill=\"\(colour)\"/>"
            s += "<text x=\"\(SVG.num(w - right + 24))\" y=\"\(SVG.num(ly))\" font-size=\"10.5\">\(SVG.escape(se.name))</text>\n"
        }
        let hollow = series.contains { !$0.measured.isEmpty } ? " Hollow circles: measured live." : ""
        s += "</svg><p class=\"note\">\(note.map(SVG.escape) ?? "Points: simulated.\(hollow) Solid lines: USL fit. Dashed: queueing model (MVA from the cost table).")</p></section>\n"
        return s
    }

    static func label(_ v: Double) -> String {
        if v >= 1e6 { return String(format: "%.1fM", v / 1e6) }
        if v >= 1e4 { return String(format: "%.0fk", v / 1e3) }
        if v == v.rounded() { return String(Int(v)) }
        return String(format: "%.2f", v)
    }

    static func rows(_ r: SweepResult, _ indices: [Int]) -> [SweepRow] {
        let byIndex = Dictionary(uniqueKeysWithValues: r.rows.map { ($0.index, $0) })
        return indices.compactMap { byIndex[$0] }
    }

    /// Live rows of the given point indices (none without `--live`).
    static func live(_ r: SweepResult, _ indices: [Int]) -> [SweepRow] {
        let byIndex = Dictionary(uniqueKeysWithValues: (r.live ?? []).map { ($0.index, $0) })
        return indices.compactMap { byIndex[$0] }.filter { $0.throughput > 0 }
    }

    static func curve(_ fit: USLFit?, from lo: Double, to hi: Double) -> [(Double, Double)] {
        guard let fit, hi > lo else { return [] }
        return (0...60).map { i in let n = lo + (hi - lo) * Double(i) / 60; return (n, fit.throughput(n)) }
    }

    static func loadCharts(_ r: SweepResult) -> String {
        let fits = r.fits.filter { $0.axis == "clients" }
        let series = fits.map { f -> Series in
            let pts = rows(r, f.rows)
            let xs = pts.map { Double($0.clients) }
            var lines: [(label: String, points: [(Double, Double)], dashed: Bool)] = [("USL", curve(f.usl, from: xs.min() ?? 0, to: xs.max() ?? 0), false)]
            if f.queueing != nil { lines.append(("MVA", Array(zip(xs, f.predictedThroughput)), true)) }
            return Series(name: f.series, points: pts.map { (Double($0.clients), $0.throughput) }, lines: lines,
                          measured: live(r, f.rows).map { (Double($0.clients), $0.throughput) })
        }
        return chart(id: "load", title: "Throughput against load (closed-loop clients)", xLabel: "clients", yLabel: "requests/s", series)
    }

    static func sizeCharts(_ r: SweepResult) -> String {
        let series = r.fits.filter { $0.axis == "n" }.map { f -> Series in
            let pts = rows(r, f.rows)
            let xs = pts.map { Double($0.n) }
            return Series(name: f.series, points: pts.map { (Double($0.n), $0.throughput) },
                          lines: [("USL", curve(f.usl, from: xs.min() ?? 0, to: xs.max() ?? 0), false)])
        }
        return chart(id: "size", title: "Throughput against n", xLabel: "replicas n", yLabel: "requests/s", series)
    }

    static func latencyChart(_ r: SweepResult) -> String {
        let series = r.fits.filter { $0.axis == "clients" }.map { f -> Series in
            let pts = rows(r, f.rows)
            var lines: [(label: String, points: [(Double, Double)], dashed: Bool)] = []
            if f.queueing != nil { lines.append(("MVA", zip(f.predictedThroughput, f.predictedLatencyNs).map { ($0, $1 / 1e6) }, true)) }
            return Series(name: f.series, points: pts.map { ($0.throughput, Double($0.latencyP50Ns) / 1e6) }, lines: lines,
                          measured: live(r, f.rows).map { ($0.throughput, Double($0.latencyP50Ns) / 1e6) })
        }
        return chart(id: "latency", title: "Latency (p50) against throughput", xLabel: "requests/s", yLabel: "ms", series)
    }

    static func fitTable(_ r: SweepResult) -> String {
        guard !r.fits.isEmpty else { return "" }
        func f(_ x: Double?, _ digits: Int = 3) -> String { x.map { String(format: "%.\(digits)f", $0) } ?? "–" }
        var h = "<section id=\"fits\"><h2>Fitted models</h2><table><tr><th>series</th><th>axis</th><th>λ</th><th>σ</th><th>κ</th><th>N*</th><th>R²</th>"
        h += "<th>MVA saturation (req/s)</th><th>MVA throughput error</th><th>MVA latency error</th></tr>\n"
        for fit in r.fits {
            let u = fit.usl
            h += "<tr><td>\(SVG.escape(fit.series))</td><td>\(fit.axis)</td><td>\(f(u?.lambda, 1))</td><td>\(f(u?.sigma, 4))</td>"
            h += "<td>\(u.map { String(format: "%.2e", $0.kappa) } ?? "–")</td><td>\(f(u?.peak, 1))</td><td>\(f(u?.rSquared))</td>"
            h += "<td>\(f(fit.queueing?.saturationThroughput, 1))</td><td>\(fit.queueingThroughputError.map { String(format: "%.0f %%", $0 * 100) } ?? "–")</td>"
            h += "<td>\(fit.queueingLatencyError.map { String(format: "%.0f %%", $0 * 100) } ?? "–")</td></tr>\n"
        }
        return h + "</table></section>\n"
    }

    static func liveTable(_ r: SweepResult) -> String {
        guard let live = r.live, !live.isEmpty else { return "" }
        let predicted = Dictionary(uniqueKeysWithValues: r.rows.map { ($0.index, $0) })
        var h = "<section id=\"live\"><h2>Predicted (simulated) against measured (live)</h2><table><tr><th>#</th><th>point</th>"
        h += "<th>predicted req/s</th><th>measured req/s</th><th>error</th><th>predicted p50 ms</th><th>measured p50 ms</th><th>error</th></tr>\n"
        for m in live {
            guard let p = predicted[m.index] else { continue }
            func err(_ a: Double, _ b: Double) -> String { b > 0 ? String(format: "%+.0f %%", (a - b) / b * 100) : "–" }
            h += "<tr><td>\(m.index)</td><td>\(SVG.escape("\(m.protocolName) n=\(m.n) b=\(m.batch) c=\(m.clients)"))</td>"
            h += "<td>\(String(format: "%.0f", p.throughput))</td><td>\(String(format: "%.0f", m.throughput))</td><td>\(err(p.throughput, m.throughput))</td>"
            h += "<td>\(String(format: "%.2f", Double(p.latencyP50Ns) / 1e6))</td><td>\(String(format: "%.2f", Double(m.latencyP50Ns) / 1e6))</td>"
            h += "<td>\(err(Double(p.latencyP50Ns), Double(m.latencyP50Ns)))</td></tr>\n"
        }
        return h + "</table></section>\n"
    }

    static func rowTable(_ r: SweepResult) -> String {
        var h = "<section id=\"points\"><h2>Points</h2><table><tr>"
        h += SweepRow.csvHeader.split(separator: ",").map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        for row in r.rows {
            h += "<tr>" + row.csvLine.split(separator: ",", omittingEmptySubsequences: false).map { "<td>\(SVG.escape(String($0)))</td>" }.joined() + "</tr>\n"
        }
        return h + "</table></section>\n"
    }
}
