import RunRecords
import Foundation

extension HTMLRenderer {
    /// Latency CDF and histogram on a log time axis, from request/complete observation pairs.
    func latency() -> String {
        var s = "<section id=\"latency\" class=\"card\"><h2>Request latency</h2>\n"
        guard let l = report.latency, !l.bins.isEmpty else {
            s += "<p class=\"muted\">No request completed, so there is no latency to show.</p></section>\n"
            return s
        }
        s += "<p class=\"cap\">\(l.count) requests, from the client's <code>request</code> to its <code>complete</code> observation (simulated time)."
        s += " p50 <b>\(formatNanos(l.p50Ns))</b> · p90 <b>\(formatNanos(l.p90Ns))</b> · p99 <b>\(formatNanos(l.p99Ns))</b> · max <b>\(formatNanos(l.maxNs))</b> · mean \(formatNanos(l.meanNs))"
        if l.incomplete > 0 { s += " · <span class=\"bad-t\">\(l.incomplete) never completed</span>" }
        s += ".</p>\n<div class=\"split\">"
        let bpd = Double(l.binsPerDecade)
        let firstBin = l.bins.first!.bucket, lastBin = l.bins.last!.bucket
        // Axis from the decade below the fastest to the decade above the slowest.
        let lo = (Double(firstBin) / bpd).rounded(.down), hi = max(lo + 1, (Double(lastBin + 1) / bpd).rounded(.up))
        let w = 530.0, h = 250.0, left = 48.0, bottom = 30.0, topPad = 14.0, rightPad = 14.0
        let pw = w - left - rightPad, ph = h - bottom - topPad
        func x(_ log10ns: Double) -> Double { left + (log10ns - lo) / (hi - lo) * pw }
        func axis(yLabel: String, yTicks: [(Double, String)]) -> String {
            var a = ""
            var d = lo
            while d <= hi + 1e-9 {
                let tx = x(d)
                a += "<line class=\"grid\" x1=\"\(SVG.num(tx))\" y1=\"\(SVG.num(topPad))\" x2=\"\(SVG.num(tx))\" y2=\"\(SVG.num(topPad + ph))\"/>"
                a += "<text class=\"axis\" x=\"\(SVG.num(tx))\" y=\"\(SVG.num(h - 12))\" text-anchor=\"middle\">\(SVG.timeLabel(pow(10, d)))</text>"
                d += 1
            }
            for (v, label) in yTicks {
                let ty = topPad + ph - v * ph
                a += "<line class=\"grid\" x1=\"\(SVG.num(left))\" y1=\"\(SVG.num(ty))\" x2=\"\(SVG.num(left + pw))\" y2=\"\(SVG.num(ty))\"/>"
                a += "<text class=\"axis\" x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(ty + 3))\" text-anchor=\"end\">\(label)</text>"
            }
            a += "<line x1=\"\(SVG.num(left))\" y1=\"\(SVG.num(topPad + ph))\" x2=\"\(SVG.num(left + pw))\" y2=\"\(SVG.num(topPad + ph))\" stroke=\"#98a2b3\"/>"
            a += "<text class=\"axis\" x=\"\(SVG.num(left + pw / 2))\" y=\"\(SVG.num(h - 1))\" text-anchor=\"middle\">\(yLabel)</text>"
            return a
        }
        // CDF: a step per histogram bin at its upper edge.
        var cdf = "<div><h3>CDF</h3><svg class=\"chart\" viewBox=\"0 0 \(SVG.num(w)) \(SVG.num(h))\" width=\"\(SVG.num(w))\" role=\"img\" aria-label=\"latency CDF\">"
        cdf += axis(yLabel: "latency (log scale)", yTicks: [0, 0.25, 0.5, 0.75, 0.9, 1].map { ($0, "\(Int($0 * 100))%") })
        var seen = 0
        var d = "M\(SVG.num(x(Double(firstBin) / bpd))) \(SVG.num(topPad + ph))"
        for b in l.bins {
            seen += b.count
            let fy = topPad + ph - Double(seen) / Double(l.count) * ph
            d += "V\(SVG.num(fy))H\(SVG.num(x(Double(b.bucket + 1) / bpd)))"
        }
        cdf += "<path d=\"\(d)\" fill=\"none\" stroke=\"#2f6fdf\" stroke-width=\"2\"/>"
        for (name, v) in [("p50", l.p50Ns), ("p90", l.p90Ns), ("p99", l.p99Ns)] where v > 0 {
            let px = x(log10(Double(v)))
            cdf += "<line x1=\"\(SVG.num(px))\" y1=\"\(SVG.num(topPad))\" x2=\"\(SVG.num(px))\" y2=\"\(SVG.num(topPad + ph))\" stroke=\"#e8841a\" stroke-dasharray=\"3 3\"/>"
            let nearRight = px > left + pw - 90
            cdf += "<text x=\"\(SVG.num(nearRight ? px - 3 : px + 3))\" y=\"\(SVG.num(topPad + ph * 0.55 + (name == "p90" ? 13 : name == "p99" ? 26 : 0)))\" font-size=\"10\" fill=\"#b54708\"\(nearRight ? " text-anchor=\"end\"" : "")>\(name) \(formatNanos(v))</text>"
        }
        cdf += "</svg></div>"
        // Histogram: one bar per bin (about 12% wide).
        let maxCount = Double(l.bins.map(\.count).max() ?? 1)
        let yTop = Double(SVG.ticks(0, maxCount, count: 4).last ?? maxCount)
        let scale = max(maxCount, yTop)
        var hist = "<div><h3>Histogram</h3><svg class=\"chart\" viewBox=\"0 0 \(SVG.num(w)) \(SVG.num(h))\" width=\"\(SVG.num(w))\" role=\"img\" aria-label=\"latency histogram\">"
        hist += axis(yLabel: "latency (log scale), \(l.binsPerDecade) bins per decade", yTicks: SVG.ticks(0, scale, count: 4).map { ($0 / scale, String(Int($0))) })
        for b in l.bins {
            let x0 = x(Double(b.bucket) / bpd), x1 = x(Double(b.bucket + 1) / bpd)
            let bh = Double(b.count) / scale * ph
            hist += "<rect x=\"\(SVG.num(x0 + 0.5))\" y=\"\(SVG.num(topPad + ph - bh))\" width=\"\(SVG.num(max(0.8, x1 - x0 - 1)))\" height=\"\(SVG.num(bh))\" fill=\"#5b8def\"><title>\(formatNanos(Int64(pow(10, Double(b.bucket) / bpd))))–\(formatNanos(Int64(pow(10, Double(b.bucket + 1) / bpd)))): \(b.count)</title></rect>"
        }
        hist += "</svg></div>"
        s += cdf + hist + "</div></section>\n"
        return s
    }

    /// Completed requests per second of simulated time, with crash and partition windows shaded.
    func throughput() -> String {
        let tp = report.throughput
        let caption = "Completed requests per simulated second in \(tp.completed.count) buckets of \(formatNanos(tp.bucketNs)); mean \(tp.meanPerSecond) req/s, peak \(tp.peakPerSecond) req/s. Shaded: faults from the timeline."
        var s = ""
        let h = 220.0, left = 52.0, bottom = 24.0, topPad = 12.0, rightPad = 12.0
        let pw = width - left - rightPad, ph = h - bottom - topPad
        let seconds = Double(tp.bucketNs) / 1e9
        let rates = tp.completed.map { Double($0) / seconds }
        let end = Double(tp.bucketNs) * Double(tp.completed.count)
        let yMax = max(1, SVG.ticks(0, max(1, rates.max() ?? 1), count: 4).last ?? 1, rates.max() ?? 1)
        func x(_ t: Double) -> Double { left + min(1, max(0, t / end)) * pw }
        s += "<svg class=\"chart\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(h))\" width=\"\(SVG.num(width))\" role=\"img\" aria-label=\"throughput over time\">"
        for f in report.timeline.faults where f.action != "set-latency" && f.action != "set-loss" {
            let x0 = x(Double(f.fromNs)), x1 = x(Double(f.toNs ?? Int64(end)))
            let fill = f.action == "crash" ? "#98a2b3" : "#f79009"
            s += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(topPad))\" width=\"\(SVG.num(max(1, x1 - x0)))\" height=\"\(SVG.num(ph))\" fill=\"\(fill)\" fill-opacity=\".12\"><title>\(SVG.escape(f.label))</title></rect>"
            s += "<text x=\"\(SVG.num(x0 + 3))\" y=\"\(SVG.num(topPad + 10))\" font-size=\"9.5\" fill=\"\(f.action == "crash" ? "#475467" : "#b54708")\">\(SVG.escape(f.label))</text>"
        }
        for v in SVG.ticks(0, yMax, count: 4) {
            let ty = topPad + ph - v / yMax * ph
            s += "<line class=\"grid\" x1=\"\(SVG.num(left))\" y1=\"\(SVG.num(ty))\" x2=\"\(SVG.num(left + pw))\" y2=\"\(SVG.num(ty))\"/>"
            s += "<text class=\"axis\" x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(ty + 3))\" text-anchor=\"end\">\(SVG.num(v))</text>"
        }
        let tickValues = SVG.ticks(0, end)
        let tickStep = tickValues.count > 1 ? tickValues[1] - tickValues[0] : end
        for t in tickValues {
            s += "<text class=\"axis\" x=\"\(SVG.num(x(t)))\" y=\"\(SVG.num(h - 8))\" text-anchor=\"middle\">\(SVG.timeLabel(t, step: tickStep))</text>"
        }
        var area = "M\(SVG.num(left)) \(SVG.num(topPad + ph))"
        for (k, r) in rates.enumerated() {
            let ty = topPad + ph - r / yMax * ph
            area += "V\(SVG.num(ty))H\(SVG.num(x(Double(k + 1) * Double(tp.bucketNs))))"
        }
        area += "V\(SVG.num(topPad + ph))z"
        s += "<path d=\"\(area)\" fill=\"#5b8def\" fill-opacity=\".35\" stroke=\"#2f6fdf\" stroke-width=\"1.2\"/>"
        let my = topPad + ph - tp.meanPerSecond / yMax * ph
        s += "<line x1=\"\(SVG.num(left))\" y1=\"\(SVG.num(my))\" x2=\"\(SVG.num(left + pw))\" y2=\"\(SVG.num(my))\" stroke=\"#e8841a\" stroke-dasharray=\"5 4\"/>"
        s += "<text x=\"\(SVG.num(left + pw - 4))\" y=\"\(SVG.num(my - 4))\" text-anchor=\"end\" font-size=\"10\" fill=\"#b54708\">mean \(tp.meanPerSecond) req/s</text>"
        s += "<line x1=\"\(SVG.num(left))\" y1=\"\(SVG.num(topPad + ph))\" x2=\"\(SVG.num(left + pw))\" y2=\"\(SVG.num(topPad + ph))\" stroke=\"#98a2b3\"/>"
        s += "<text class=\"axis\" transform=\"translate(12 \(SVG.num(topPad + ph / 2))) rotate(-90)\" text-anchor=\"middle\">req/s</text>"
        s += "</svg>\n"
        return card(id: "throughput", title: "Throughput over simulated time", caption: caption, s)
    }
}
