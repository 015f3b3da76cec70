import RunRecords
import Foundation

extension HTMLRenderer {
    /// Space-time (Lamport) diagram: one horizontal lane per replica plus one for all clients, time
    /// to the right, one arrow per message from its send to its delivery, coloured by type.
    func spaceTime() -> String {
        let st = report.spaceTime
        let lanes = st.lanes.count
        let labelW = 70.0, top = 30.0, right = 16.0
        let plotW = width - labelW - right
        let laneGap = lanes <= 9 ? 38.0 : max(8, min(24, 600 / Double(lanes)))
        let height = top + Double(lanes - 1) * laneGap + 24
        let from = Double(st.fromNs), span = Double(max(1, st.toNs - st.fromNs))
        func x(_ t: Int64) -> Double { labelW + (Double(t) - from) / span * plotW }
        func y(_ lane: Int) -> Double { top + Double(lane) * laneGap }
        let rightEdge = labelW + plotW

        var s = "<section id=\"spacetime\" class=\"card\"><h2>Space-time diagram</h2>\n"
        s += "<p class=\"cap\">\(SVG.escape(st.caption)) Each arrow is one message from send to delivery; ✕ marks a drop, a dashed arrow is still in flight at the window's end.</p>\n"
        if st.arrows.isEmpty {
            s += "<p class=\"muted\">No messages in the window.</p></section>\n"
            return s
        }
        let typesShown = Array(Set(st.arrows.map(\.type))).sorted()
        s += "<svg class=\"chart\" viewBox=\"0 0 \(SVG.num(width)) \(SVG.num(height))\" width=\"\(SVG.num(width))\" role=\"img\" aria-label=\"space-time diagram\">\n<defs>"
        for t in typesShown {
            s += "<marker id=\"st-\(SVG.ident(t))\" viewBox=\"0 0 8 8\" refX=\"7.5\" refY=\"4\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0 0L8 4L0 8z\" fill=\"\(typeColours[t] ?? "#888")\"/></marker>"
        }
        s += "</defs>\n"
        let tickValues = SVG.ticks(from, from + span)
        let tickStep = tickValues.count > 1 ? tickValues[1] - tickValues[0] : span
        for t in tickValues {
            let tx = labelW + (t - from) / span * plotW
            s += "<line class=\"grid\" x1=\"\(SVG.num(tx))\" y1=\"\(SVG.num(top - 8))\" x2=\"\(SVG.num(tx))\" y2=\"\(SVG.num(height - 16))\"/>"
            s += "<text class=\"axis\" x=\"\(SVG.num(tx))\" y=\"\(SVG.num(top - 14))\" text-anchor=\"middle\">\(SVG.timeLabel(t, step: tickStep))</text>"
        }
        let showEvery = lanes > 33 ? 4 : (lanes > 17 ? 2 : 1)
        for (k, name) in st.lanes.enumerated() {
            let ly = y(k)
            let isClients = k == lanes - 1
            s += "<line x1=\"\(SVG.num(labelW))\" y1=\"\(SVG.num(ly))\" x2=\"\(SVG.num(rightEdge))\" y2=\"\(SVG.num(ly))\" stroke=\"\(isClients ? "#98a2b3" : "#344054")\" stroke-width=\"\(lanes > 30 ? 0.6 : 1)\"\(isClients ? " stroke-dasharray=\"4 3\"" : "")/>"
            if k % showEvery == 0 || isClients {
                s += "<text x=\"\(SVG.num(labelW - 8))\" y=\"\(SVG.num(ly + 4))\" text-anchor=\"end\" font-size=\"\(lanes > 30 ? 8 : 11)\" fill=\"#344054\">\(SVG.escape(name))</text>"
            }
        }
        s += "\n"
        for a in st.arrows {
            let x1 = x(a.sendNs), y1 = y(a.from)
            let colour = typeColours[a.type] ?? "#888"
            var title = "\(a.type)"
            if let v = a.view { title += " view \(v)" }
            if let q = a.seq { title += " seq \(q)" }
            title += " \(st.lanes[a.from])→\(st.lanes[a.to]) sent \(formatNanos(a.sendNs))"
            if a.from == a.to {
                s += "<circle cx=\"\(SVG.num(x1))\" cy=\"\(SVG.num(y1))\" r=\"2\" fill=\"\(colour)\"><title>\(SVG.escape(title))</title></circle>"
                continue
            }
            var y2 = y(a.to)
            if let reason = a.dropped {
                // A drop: a short dashed stub toward the destination ending in a cross.
                let dx = min(18, plotW * 0.02)
                let x2 = x1 + dx, yEnd = y1 + (y2 - y1) * 0.35
                s += "<g><title>\(SVG.escape(title)), dropped (\(SVG.escape(reason)))</title><line x1=\"\(SVG.num(x1))\" y1=\"\(SVG.num(y1))\" x2=\"\(SVG.num(x2))\" y2=\"\(SVG.num(yEnd))\" stroke=\"\(colour)\" stroke-width=\"1.1\" stroke-dasharray=\"2 2\"/>"
                s += "<path d=\"M\(SVG.num(x2 - 3)) \(SVG.num(yEnd - 3))l6 6m0 -6l-6 6\" stroke=\"#c62f2f\" stroke-width=\"1.5\"/></g>"
                continue
            }
            var x2: Double
            var dashed = false
            if let d = a.deliverNs, d <= st.toNs {
                x2 = x(d)
                title += ", delivered \(formatNanos(d))"
            } else {
                // In flight at the window's end: clip at the right edge.
                let d = a.deliverNs ?? st.toNs + Int64(span)
                let full = x(d)
                let frac = full > x1 ? (rightEdge - x1) / (full - x1) : 1
                y2 = y1 + (y2 - y1) * min(1, frac)
                x2 = rightEdge
                dashed = true
                title += a.deliverNs.map { ", delivered \(formatNanos($0)) (after the window)" } ?? ", never delivered"
            }
            s += "<line x1=\"\(SVG.num(x1))\" y1=\"\(SVG.num(y1))\" x2=\"\(SVG.num(x2))\" y2=\"\(SVG.num(y2))\" stroke=\"\(colour)\" stroke-width=\"1.15\" stroke-opacity=\".85\"\(dashed ? " stroke-dasharray=\"4 3\"" : " marker-end=\"url(#st-\(SVG.ident(a.type)))\"")><title>\(SVG.escape(title))</title></line>"
        }
        s += "\n"
        for m in st.markers {
            let mx = x(m.timeNs)
            if m.lane < 0 {
                let colour = m.kind == "violation" ? "#c62f2f" : "#b54708"
                s += "<line x1=\"\(SVG.num(mx))\" y1=\"\(SVG.num(top - 6))\" x2=\"\(SVG.num(mx))\" y2=\"\(SVG.num(height - 14))\" stroke=\"\(colour)\" stroke-width=\"\(m.kind == "violation" ? 2 : 1.2)\" stroke-dasharray=\"5 3\"><title>\(SVG.escape(m.label)) at \(formatNanos(m.timeNs))</title></line>"
                s += "<text x=\"\(SVG.num(min(mx + 4, rightEdge - 90)))\" y=\"\(SVG.num(height - 3))\" font-size=\"11\" font-weight=\"600\" fill=\"\(colour)\">\(SVG.escape(m.label))</text>"
                continue
            }
            let my = y(m.lane)
            let title = "<title>\(SVG.escape(st.lanes[m.lane])): \(SVG.escape(m.label)) at \(formatNanos(m.timeNs))</title>"
            switch m.kind {
            case "commit":
                // Just below the lane: HotStuff commits at the moment it enters a view (the diamond).
                s += "<circle cx=\"\(SVG.num(mx))\" cy=\"\(SVG.num(my + min(6, laneGap / 3)))\" r=\"2.6\" fill=\"#1d2330\">\(title)</circle>"
            case "view-entered":
                s += "<path d=\"M\(SVG.num(mx)) \(SVG.num(my - 5))l4 5l-4 5l-4 -5z\" fill=\"#2f6fdf\" stroke=\"#fff\" stroke-width=\".8\">\(title)</path>"
            case "view-change":
                s += "<path d=\"M\(SVG.num(mx - 5)) \(SVG.num(my - 8))h10l-5 7z\" fill=\"#d63c3c\">\(title)</path>"
            case "crash", "isolate":
                s += "<path d=\"M\(SVG.num(mx - 6)) \(SVG.num(my - 6))l12 12m0 -12l-12 12\" stroke=\"#101828\" stroke-width=\"2.5\">\(title)</path>"
            default:
                break
            }
        }
        s += "</svg>\n<div class=\"legend\">"
        for t in typesShown {
            s += "<span><svg width=\"22\" height=\"10\"><line x1=\"1\" y1=\"5\" x2=\"16\" y2=\"5\" stroke=\"\(typeColours[t] ?? "#888")\" stroke-width=\"2\"/><path d=\"M15 1l6 4l-6 4z\" fill=\"\(typeColours[t] ?? "#888")\"/></svg>\(SVG.escape(t))</span>"
        }
        s += "<span><svg width=\"10\" height=\"10\"><circle cx=\"5\" cy=\"5\" r=\"3\" fill=\"#1d2330\"/></svg>commit (just below the lane)</span>"
        s += "<span><svg width=\"10\" height=\"12\"><path d=\"M5 1l4 5l-4 5l-4 -5z\" fill=\"#2f6fdf\"/></svg>view entered</span>"
        s += "<span><svg width=\"12\" height=\"10\"><path d=\"M1 1h10l-5 7z\" fill=\"#d63c3c\"/></svg>view change started</span>"
        s += "<span><svg width=\"12\" height=\"12\"><path d=\"M1 1l10 10m0 -10l-10 10\" stroke=\"#c62f2f\" stroke-width=\"1.5\"/></svg>dropped</span>"
        s += "</div>\n"
        var fine = "\(st.arrows.count) messages drawn (at most \(st.arrowsMax))"
        if st.omitted > 0 { fine += "; \(st.omitted) more in the window not drawn" }
        s += "<p class=\"fine\">\(fine). Hover an arrow for its type, view, sequence number and times.</p>\n</section>\n"
        return s
    }
}
