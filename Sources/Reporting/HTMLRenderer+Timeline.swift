import RunRecords
import Foundation

extension HTMLRenderer {
    /// Lane height for `n` lanes: roomy for small clusters, at least 6 units so n=64 stays readable.
    static func laneHeight(_ n: Int) -> Double {
        if n <= 8 { return 28 }
        if n <= 16 { return 20 }
        return max(6, min(14, 520 / Double(n)))
    }

    /// Per-replica timeline: views as bands, commits as ticks, view-change starts as red marks,
    /// crashes, partitions and Byzantine replicas shaded.
    func timeline() -> String {
        let tl = report.timeline
        let n = tl.lanes.count
        let end = Double(max(1, report.header.simDurationNs))
        let labelW = 92.0, top = 26.0, right = 12.0
        let plotW = width - labelW - right
        let laneH = Self.laneHeight(n)
        let gap = laneH >= 14 ? 3.0 : 1.0
        let height = top + Double(n) * laneH + 8
        func x(_ t: Int64) -> Double { labelW + min(max(0, Double(t) / end), 1) * plotW }
        func y(_ lane: Int) -> Double { top + Double(lane) * laneH }

        var s = "<section id=\"timeline\" class=\"card\"><h2>Per-replica timeline</h2>\n"
        s += "<p class=\"cap\">Each lane is a replica. Bands are the view it is in (labelled when wide enough); black ticks are commits"
        s += " (one per \(formatNanos(tl.bucketNs)) bucket with at least one); red marks are view changes started. Hatched bands cover views entered faster than one bucket.</p>\n"
        s += "<svg class=\"chart\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\" width=\"\(SVG.num(width))\" role=\"img\" aria-label=\"per-replica timeline\">\n"
        s += """
        <defs>
        <pattern id="tl-adv" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#dbe8fb"/><line x1="0" y1="0" x2="0" y2="6" stroke="#9fbef0" stroke-width="3"/></pattern>
        <pattern id="tl-crash" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d0d5dd"/><line x1="0" y1="0" x2="0" y2="6" stroke="#98a2b3" stroke-width="2"/></pattern>
        <pattern id="tl-byz" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#a1368f" stroke-width="2.5" stroke-opacity=".35"/></pattern>
        <pattern id="tl-vc" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="6" height="6" fill="#fde2e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#f19a98" stroke-width="2"/></pattern>
        <pattern id="tl-fault" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="7" height="7" fill="#f79009" fill-opacity=".16"/><line x1="0" y1="0" x2="0" y2="7" stroke="#f79009" stroke-width="2" stroke-opacity=".45"/></pattern>
        </defs>

        """
        // Axis and grid.
        let tickValues = SVG.ticks(0, end)
        let tickStep = tickValues.count > 1 ? tickValues[1] - tickValues[0] : end
        for t in tickValues {
            let tx = labelW + t / end * plotW
            s += "<line class=\"grid\" x1=\"\(SVG.num(tx))\" y1=\"\(SVG.num(top - 4))\" x2=\"\(SVG.num(tx))\" y2=\"\(SVG.num(height - 8))\"/>"
            s += "<text class=\"axis\" x=\"\(SVG.num(tx))\" y=\"\(SVG.num(top - 9))\" text-anchor=\"middle\">\(SVG.timeLabel(t, step: tickStep))</text>"
        }
        s += "\n"
        let fontSize = min(11, max(6, laneH - 4))
        for lane in tl.lanes {
            let k = lane.replica
            let y0 = y(k) + gap / 2, h = laneH - gap
            s += "<rect x=\"\(SVG.num(labelW))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(plotW))\" height=\"\(SVG.num(h))\" fill=\"#f2f4f7\"/>"
            for span in lane.views {
                let x0 = x(span.fromNs), x1 = max(x(span.toNs), x0 + 0.6)
                let advancing = span.viewLast > span.viewFirst
                let fill = advancing ? "url(#tl-adv)" : SVG.viewFill(span.viewFirst)
                let title = advancing ? "views \(span.viewFirst)–\(span.viewLast)" : "view \(span.viewFirst)\(span.leader.map { ", leader r\($0)" } ?? "")"
                s += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(x1 - x0))\" height=\"\(SVG.num(h))\" fill=\"\(fill)\"><title>r\(k): \(title), \(formatNanos(span.fromNs))–\(formatNanos(span.toNs))</title></rect>"
                let text = advancing ? "v\(span.viewFirst)–\(span.viewLast)" : "v\(span.viewFirst)"
                if laneH >= 14, x1 - x0 > Double(text.count) * 6.5 + 6 {
                    s += "<text x=\"\(SVG.num(x0 + 4))\" y=\"\(SVG.num(y0 + fontSize + 1))\" font-size=\"\(SVG.num(fontSize - 1))\" fill=\"#344054\" stroke=\"#fff\" stroke-width=\"3\" stroke-opacity=\".85\" paint-order=\"stroke\">\(text)</text>"
                }
            }
            for c in lane.changingViews {
                let x0 = x(c.fromNs), x1 = max(x(c.toNs), x0 + 1)
                s += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(x1 - x0))\" height=\"\(SVG.num(h))\" fill=\"url(#tl-vc)\"><title>r\(k) changing view \(formatNanos(c.fromNs))–\(formatNanos(c.toNs))</title></rect>"
            }
            if let c = lane.crashedAtNs {
                let x0 = x(c)
                s += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(labelW + plotW - x0))\" height=\"\(SVG.num(h))\" fill=\"url(#tl-crash)\"><title>r\(k) crashed at \(formatNanos(c))</title></rect>"
                if laneH >= 14 {
                    s += "<text x=\"\(SVG.num(x0 + 5))\" y=\"\(SVG.num(y0 + h / 2 + 4))\" font-size=\"11\" font-weight=\"600\" fill=\"#344054\">✕ crashed at \(formatNanos(c))</text>"
                }
            }
            if let b = lane.byzantine {
                s += "<rect x=\"\(SVG.num(labelW))\" y=\"\(SVG.num(y0))\" width=\"\(SVG.num(plotW))\" height=\"\(SVG.num(h))\" fill=\"url(#tl-byz)\" stroke=\"#a1368f\" stroke-width=\"1\"><title>r\(k) Byzantine: \(SVG.escape(b))</title></rect>"
            }
            // Commit ticks: one path per lane keeps large clusters small.
            if !lane.commits.isEmpty {
                var d = ""
                let bw = plotW / Double(tl.buckets)
                for c in lane.commits {
                    let cx = labelW + (Double(c.bucket) + 0.5) * bw
                    d += "M\(SVG.num(cx)) \(SVG.num(y0 + h * 0.45))v\(SVG.num(h * 0.55))"
                }
                s += "<path d=\"\(d)\" stroke=\"#1d2330\" stroke-width=\"\(laneH >= 14 ? 1.2 : 1)\" stroke-opacity=\".75\"/>"
            }
            if !lane.viewChangeStartsNs.isEmpty {
                var d = ""
                let size = min(5, h * 0.45)
                for t in lane.viewChangeStartsNs {
                    d += "M\(SVG.num(x(t) - size)) \(SVG.num(y0))h\(SVG.num(2 * size))l-\(SVG.num(size)) \(SVG.num(size * 1.3))z"
                }
                s += "<path d=\"\(d)\" fill=\"#d63c3c\"><title>r\(k): \(lane.viewChangeStartsNs.count + lane.viewChangeStartsOmitted) view changes started</title></path>"
            }
            let label = "r\(k)" + (lane.byzantine != nil ? " byz" : "") + (lane.crashedAtNs != nil ? " ✕" : "")
            if laneH >= 9 || k % 4 == 0 {
                let fill = lane.byzantine != nil ? "#a1368f" : "#344054"
                s += "<text x=\"\(SVG.num(labelW - 8))\" y=\"\(SVG.num(y0 + h / 2 + fontSize / 3))\" text-anchor=\"end\" font-size=\"\(SVG.num(min(11, max(7, laneH))))\" fill=\"\(fill)\">\(label)</text>"
            }
            s += "\n"
        }
        // Faults over the lanes they affect.
        for f in tl.faults where ["partition", "isolate", "cut", "cut-one-way"].contains(f.action) {
            let x0 = x(f.fromNs), x1 = x(f.toNs ?? report.header.simDurationNs)
            for r in f.replicas where r < n {
                s += "<rect x=\"\(SVG.num(x0))\" y=\"\(SVG.num(y(r)))\" width=\"\(SVG.num(max(1, x1 - x0)))\" height=\"\(SVG.num(laneH))\" fill=\"url(#tl-fault)\" stroke=\"#f79009\" stroke-opacity=\".6\"><title>\(SVG.escape(f.label)) \(formatNanos(f.fromNs))–\(f.toNs.map(formatNanos) ?? "end")</title></rect>"
            }
            s += "<text x=\"\(SVG.num(x0 + 3))\" y=\"\(SVG.num(top - 1))\" font-size=\"9.5\" fill=\"#b54708\">\(SVG.escape(f.label))</text>"
        }
        for f in tl.faults where f.action == "set-latency" || f.action == "set-loss" {
            let x0 = x(f.fromNs)
            s += "<line x1=\"\(SVG.num(x0))\" y1=\"\(SVG.num(top))\" x2=\"\(SVG.num(x0))\" y2=\"\(SVG.num(height - 8))\" stroke=\"#b54708\" stroke-dasharray=\"3 3\"><title>\(SVG.escape(f.label))</title></line>"
        }
        s += "</svg>\n"
        // Legend: only what this run has.
        let lanesAll = tl.lanes
        let hasAdvancing = lanesAll.contains { $0.views.contains { $0.viewLast > $0.viewFirst } }
        let hasStarts = lanesAll.contains { !$0.viewChangeStartsNs.isEmpty }
        let hasChanging = lanesAll.contains { !$0.changingViews.isEmpty }
        let hasCrash = lanesAll.contains { $0.crashedAtNs != nil }
        let hasFault = tl.faults.contains { ["partition", "isolate", "cut", "cut-one-way"].contains($0.action) }
        let hasLink = tl.faults.contains { $0.action == "set-latency" || $0.action == "set-loss" }
        let hasByzantine = lanesAll.contains { $0.byzantine != nil }
        s += "<div class=\"legend\">"
        s += "<span><span class=\"sw\" style=\"background:#dbe8fb\"></span><span class=\"sw\" style=\"background:#e3f3df\"></span>view bands (colour changes with the view)</span>"
        if hasAdvancing { s += "<span><svg width=\"14\" height=\"12\"><rect width=\"14\" height=\"12\" fill=\"#9fbef0\"/></svg>views advancing faster than one bucket</span>" }
        s += "<span><svg width=\"8\" height=\"12\"><line x1=\"4\" y1=\"2\" x2=\"4\" y2=\"12\" stroke=\"#1d2330\" stroke-width=\"1.5\"/></svg>commits</span>"
        if hasStarts { s += "<span><svg width=\"12\" height=\"10\"><path d=\"M1 1h10l-5 7z\" fill=\"#d63c3c\"/></svg>view change started</span>" }
        if hasChanging { s += "<span><span class=\"sw\" style=\"background:#f6b5b3\"></span>changing view (no view to work in)</span>" }
        if hasCrash { s += "<span><span class=\"sw\" style=\"background:#98a2b3\"></span>crashed</span>" }
        if hasFault { s += "<span><span class=\"sw\" style=\"background:#fbd9a8\"></span>partitioned / isolated / link cut</span>" }
        if hasLink { s += "<span><svg width=\"8\" height=\"12\"><line x1=\"4\" y1=\"0\" x2=\"4\" y2=\"12\" stroke=\"#b54708\" stroke-dasharray=\"3 2\"/></svg>link latency / loss changed</span>" }
        if hasByzantine { s += "<span><span class=\"sw\" style=\"background:#f0c8e6;border:1px solid #a1368f\"></span>Byzantine replica</span>" }
        s += "</div>\n"
        if n > 24 { s += "<p class=\"fine\">\(n) lanes: labels every fourth lane when lanes are thin; hover a band for its view.</p>\n" }
        if tl.faultsOmitted > 0 { s += "<p class=\"fine\">\(tl.faultsOmitted) further faults not drawn.</p>\n" }
        s += "</section>\n"
        return s
    }
}
