import Foundation
import PerformanceModel

/// The HTML report of `bftsim tune` (issue 18): the best configuration as a scenario snippet, convergence
/// of the best value against simulations spent (with the reference grid's best when given), the
/// surrogate's slice along each parameter, the throughput–p99 Pareto front, and every evaluation.
public enum TuneReport {
    public static func html(_ r: TuneResult) -> String {
        HTMLRenderer.page(title: "\(r.scenario) — bftsim tune") {
            var h = "<section id=\"header\"><h1>Tune \(SVG.escape(r.scenario)) (\(r.mode))</h1>"
            h += "<p>Objective: \(r.direction) <code>\(SVG.escape(r.objective))</code>"
            h += r.constraints.isEmpty ? "" : " subject to <code>\(SVG.escape(r.constraints.joined(separator: ", ")))</code>"
            h += ". Parameters: \(r.parameters.map { "<code>\(SVG.escape($0))</code>" }.joined(separator: ", ")). "
            h += "\(r.evaluations.count) points, \(r.simulations) simulations. " + r.notes.map(SVG.escape).joined(separator: "; ") + ".</p>"
            if let ref = r.referenceBestValue, let ratio = r.ratioToReference {
                h += String(format: "<p>Reference (grid) best %@ with %d simulations; this run's best is %.1f %% of it with %d simulations (%.1f %% of the reference's).</p>",
                            label(ref), r.referenceSimulations ?? 0, ratio * 100, r.simulations,
                            Double(r.simulations) / Double(max(1, r.referenceSimulations ?? 1)) * 100)
            }
            if let s = r.surrogate { h += "<p>Surrogate: \(SVG.escape(s)).</p>" }
            h += "<h2>Best configuration</h2><pre>\(SVG.escape(r.snippet))</pre></section>\n"
            h += convergence(r) + slices(r) + pareto(r) + table(r)
            return h
        }
    }

    static func label(_ v: Double) -> String { SweepReport.label(v) }

    static func convergence(_ r: TuneResult) -> String {
        let pts = r.convergence.map { (Double($0.simulations), $0.value) }
        var lines: [(label: String, points: [(Double, Double)], dashed: Bool)] = [("best so far", pts, false)]
        var series = [SweepReport.Series(name: "\(r.mode): best so far", points: pts, lines: lines)]
        if let ref = r.referenceBestValue {
            let xMax = Double(max(r.simulations, 1))
            lines = [("reference", [(0, ref), (xMax, ref)], true)]
            let band = r.direction == "minimise" ? ref * 1.05 : ref * 0.95
            lines.append(("within 5 %", [(0, band), (xMax, band)], true))
            series.append(SweepReport.Series(name: "grid best (and 5 % band)", points: [], lines: lines))
        }
        let raw = SweepReport.Series(name: "each point", points: r.evaluations.filter(\.feasible).map { (Double($0.simulations), $0.value) }, lines: [])
        return SweepReport.chart(id: "convergence", title: "Convergence: best \(r.direction == "minimise" ? "(lowest)" : "(highest)") objective against simulations",
                                 xLabel: "simulations", yLabel: r.objective, series + [raw],
                                 note: "Line: best feasible value so far. Dots: every feasible point. Dashed: the reference grid's best and the 5 % band.")
    }

    static func slices(_ r: TuneResult) -> String {
        guard !r.slices.isEmpty, let b = r.best else { return "" }
        var h = "<section id=\"slices\"><h2>Surrogate slices</h2><p>Posterior mean (solid) ± one standard deviation (dashed) along each parameter, the others held at the best point; dots are the evaluated points projected onto the axis.</p></section>\n"
        for (i, s) in r.slices.enumerated() {
            let isTime = r.parameters[i].contains("timeout") || r.parameters[i].contains("delay")
            func x(_ v: Double) -> Double { s.labels.isEmpty ? (isTime ? v / 1e6 : v) : v + 1 }
            let mean = zip(s.x, s.mean).map { (x($0), $1) }
            let lower = zip(s.x, s.lower).map { (x($0), $1) }
            let upper = zip(s.x, s.upper).map { (x($0), $1) }
            let observed = r.evaluations.filter(\.feasible).map { (x($0.values[i]), $0.value) }
            let series = [SweepReport.Series(name: "surrogate", points: s.labels.isEmpty ? [] : mean,
                                             lines: [("mean", mean, false), ("-1 sd", lower, true), ("+1 sd", upper, true)]),
                          SweepReport.Series(name: "evaluated", points: observed, lines: []),
                          SweepReport.Series(name: "best", points: [(x(r.evaluations[b].values[i]), r.evaluations[b].value)], lines: [])]
            let unit = s.labels.isEmpty ? (isTime ? " (ms)" : "") : " (" + s.labels.enumerated().map { "\($0 + 1)=\($1)" }.joined(separator: ", ") + ")"
            h += SweepReport.chart(id: "slice-\(s.parameter)", title: "Slice: \(s.parameter)", xLabel: s.parameter + unit + (s.logScale ? ", searched on a log scale" : ""),
                                   yLabel: r.objective, series, note: "Solid: posterior mean; dashed: ± one standard deviation.")
        }
        return h
    }

    static func pareto(_ r: TuneResult) -> String {
        guard r.objective.contains(",") else { return "" }
        let all = r.evaluations.filter { $0.status == "ok" && $0.throughput > 0 }.map { ($0.latencyP99Ns / 1e6, $0.throughput) }
        let front = r.paretoFront.map { ($0.latencyP99Ns / 1e6, $0.throughput) }
        let series = [SweepReport.Series(name: "Pareto front", points: front, lines: [("front", front, false)]),
                      SweepReport.Series(name: "evaluated", points: all, lines: [])]
        return SweepReport.chart(id: "pareto", title: "Pareto front: throughput against p99 latency", xLabel: "p99 latency (ms)", yLabel: "requests/s",
                                 series, note: "No evaluated point has both more throughput and a lower p99 than a point on the front.")
    }

    static func table(_ r: TuneResult) -> String {
        var h = "<section id=\"points\"><h2>Evaluations</h2><table><tr><th>#</th><th>round</th><th>settings</th><th>req/s</th><th>per seed</th>"
        h += "<th>p50 ms</th><th>p99 ms</th><th>objective</th><th>feasible</th><th>simulations</th><th>status</th></tr>\n"
        for e in r.evaluations {
            let mark = e.index == r.best ? " style=\"font-weight:bold\"" : ""
            h += "<tr\(mark)><td>\(e.index)</td><td>\(e.round)</td><td>\(SVG.escape(e.settings.joined(separator: " ")))</td>"
            h += String(format: "<td>%.0f</td><td>%@</td><td>%.2f</td><td>%.2f</td><td>%@</td>", e.throughput,
                        e.throughputPerSeed.map { String(format: "%.0f", $0) }.joined(separator: " "), e.latencyP50Ns / 1e6, e.latencyP99Ns / 1e6, label(e.value))
            h += "<td>\(e.feasible ? "yes" : "no")</td><td>\(e.simulations)</td><td>\(SVG.escape(e.status))</td></tr>\n"
        }
        return h + "</table></section>\n"
    }
}
