import RunRecords
import Foundation

extension RunAnalysis {
    /// Chooses and collects the space-time diagram's messages while the trace streams by.
    ///
    /// With a violation, the window is the `arrowsMax * 2/3` messages sent up to the violating event
    /// (a ring that forgets older ones) plus the next third; otherwise it is the first `arrowsMax`
    /// messages of the run. A message belongs to the window by its send event; its delivery or drop
    /// is paired later through the trace's `msg` id.
    struct WindowState {
        let n: Int
        let focus: RunSummary.Check?
        let beforeMax: Int
        let afterMax: Int
        let clientMax: Int
        var clientLive = 0
        var clientSkipped = 0
        var arrows: [RunReport.Arrow?]
        var arrowMsg: [Int64]
        /// Next ring slot to write and the number of live slots.
        var head = 0
        var live = 0
        var byMsg: [Int64: Int] = [:]
        var afterCount = 0
        var accepting = true
        var markers: [RunReport.Marker] = []
        var lastSendNs: Int64 = 0
        var firstSendNs: Int64?
        /// Messages sent in the window after the cap was reached (with a focus: after the after-part).
        var omitted = 0

        init(replicas: Int, focus: RunSummary.Check?) {
            n = replicas
            self.focus = focus
            let cap = RunAnalysis.arrowsMax(replicas: replicas)
            if focus != nil {
                beforeMax = cap * 2 / 3
                afterMax = cap - beforeMax
            } else {
                beforeMax = cap
                afterMax = 0
            }
            clientMax = Int(Double(cap) * RunAnalysis.clientArrowsShare)
            arrows = [RunReport.Arrow?](repeating: nil, count: beforeMax + afterMax)
            arrowMsg = [Int64](repeating: -1, count: beforeMax + afterMax)
        }

        func lane(_ name: String?) -> Int {
            guard let name, name.first == "r", let id = Int(name.dropFirst()), id < n else { return n }
            return id
        }

        /// Whether an event at this index still opens new arrows, and whether the ring may evict.
        var beforeFocus: Bool = true

        mutating func absorb(_ r: TraceRecord) {
            if let f = focus {
                if let e = f.eventIndex {
                    if r.event > e { beforeFocus = false }
                } else if let t = f.time, r.time > t {
                    beforeFocus = false
                }
            }
            switch r.kind {
            case "send":
                guard let msg = r.int("msg") else { return }
                add(r, msg: msg, dropped: nil)
            case "deliver":
                guard let msg = r.int("msg"), let slot = byMsg[msg] else { return }
                arrows[slot]?.deliverNs = r.time
            case "drop":
                guard let msg = r.int("msg") else { return }
                if let slot = byMsg[msg] {
                    arrows[slot]?.dropped = r.string("reason") ?? "dropped"
                } else {
                    add(r, msg: msg, dropped: r.string("reason") ?? "dropped")
                }
            case "observe", "fault":
                mark(r)
            default:
                break
            }
        }

        mutating func add(_ r: TraceRecord, msg: Int64, dropped: String?) {
            guard accepting else {
                if r.time <= lastSendNs { omitted += 1 }
                return
            }
            let arrow = RunReport.Arrow(
                from: lane(r.string("from")), to: lane(r.string("to")), sendNs: r.time, deliverNs: nil,
                type: r.string("type") ?? "?", view: r.int("view").map { UInt64(max(0, $0)) },
                seq: r.int("seq").map { UInt64(max(0, $0)) }, dropped: dropped)
            let isClient = arrow.from == n || arrow.to == n
            if isClient && clientLive >= clientMax {
                clientSkipped += 1
                return
            }
            if beforeFocus {
                let capacity = beforeMax
                if live == capacity {
                    if focus == nil {
                        accepting = false
                        omitted += 1
                        return
                    }
                    byMsg.removeValue(forKey: arrowMsg[head])
                    if let old = arrows[head], old.from == n || old.to == n { clientLive -= 1 }
                } else {
                    live += 1
                }
                put(arrow, msg: msg, slot: head)
                head = (head + 1) % capacity
                if isClient { clientLive += 1 }
            } else {
                guard afterCount < afterMax else {
                    accepting = false
                    omitted += 1
                    return
                }
                put(arrow, msg: msg, slot: beforeMax + afterCount)
                afterCount += 1
                if isClient { clientLive += 1 }
            }
            lastSendNs = max(lastSendNs, r.time)
        }

        mutating func put(_ arrow: RunReport.Arrow, msg: Int64, slot: Int) {
            arrows[slot] = arrow
            arrowMsg[slot] = msg
            byMsg[msg] = slot
        }

        mutating func mark(_ r: TraceRecord) {
            // Before a focus the newest markers matter (a ring); after it, or without one, the first.
            let cap = focus != nil && !beforeFocus ? RunAnalysis.markersMax * 3 / 2 : RunAnalysis.markersMax
            let kind = r.kind == "fault" ? (r.string("action") ?? "fault") : (r.string("obs") ?? "")
            let label: String
            switch kind {
            case "commit": label = "commit seq \(r.int("seq") ?? 0)"
            case "view-entered": label = "enter view \(r.int("view") ?? 0)"
            case "view-change": label = "view change → \(r.int("view") ?? 0)"
            case "crash", "isolate": label = kind
            case "partition", "heal": label = kind
            default: return
            }
            let laneIndex = r.kind == "fault" && (kind == "partition" || kind == "heal") ? -1 : lane(r.string("node"))
            guard laneIndex < n else { return }
            if markers.count >= cap {
                guard accepting, focus != nil, beforeFocus else { return }
                markers.removeFirst()
            }
            markers.append(.init(lane: laneIndex, timeNs: r.time, kind: kind, label: label))
        }

        /// Drops the messages before the longest quiet gap preceding the focus when that gap is more
        /// than a third of the window, repeatedly: after a stall the window then shows what happened
        /// around the focus instead of squeezing it against the edge. Returns how many were dropped.
        static func trimQuietLead(_ kept: inout [RunReport.Arrow], focusNs: Int64?) -> Int {
            guard let focusNs, kept.count > 20 else { return 0 }
            let span = (kept.last!.sendNs - kept.first!.sendNs)
            var best = 0
            var bestGap: Int64 = 0
            for k in 1..<kept.count where kept[k - 1].sendNs <= focusNs {
                let gap = kept[k].sendNs - kept[k - 1].sendNs
                if gap > bestGap { bestGap = gap; best = k }
            }
            guard best > 0, bestGap * 3 > span, kept.count - best >= 10 else { return 0 }
            kept.removeFirst(best)
            return best + trimQuietLead(&kept, focusNs: focusNs)
        }

        func report(endNs: Int64) -> RunReport.SpaceTime {
            var kept = arrows.compactMap { $0 }
            kept.sort { ($0.sendNs, $0.from, $0.to) < ($1.sendNs, $1.from, $1.to) }
            let trimmed = Self.trimQuietLead(&kept, focusNs: focus?.time)
            let from = kept.first?.sendNs ?? 0
            let last = kept.map(\.sendNs).max() ?? 0
            let latestArrival = kept.compactMap(\.deliverNs).max() ?? last
            let to = max(last + 1, min(latestArrival, last + max((last - from) / 4, 1_000_000)))
            var markers = self.markers.filter { $0.timeNs >= from && $0.timeNs <= to }
            var caption: String
            if let f = focus, f.eventIndex == nil {
                caption = "Around \(formatNanos(f.time ?? 0)) (requested with --window-at)"
                if let t = f.time, t >= from, t <= to {
                    markers.append(.init(lane: -1, timeNs: t, kind: "focus", label: "--window-at \(formatNanos(t))"))
                }
            } else if let f = focus {
                caption = "Around the first violation (\(f.name) at \(formatNanos(f.time ?? 0)), event \(f.eventIndex ?? 0))"
                if let t = f.time, t >= from, t <= to {
                    markers.append(.init(lane: -1, timeNs: t, kind: "violation", label: "\(f.name) violated"))
                }
            } else {
                caption = "The first \(kept.count) messages of the run"
            }
            caption += ": \(formatNanos(from)) – \(formatNanos(to))."
            if trimmed > 0 {
                caption += " \(trimmed) earlier messages before a quiet period are left out."
            }
            if clientSkipped > 0 {
                caption += " Client messages are limited to \(clientMax) arrows so replica traffic shows."
            }
            return .init(caption: caption, fromNs: from, toNs: to,
                         lanes: (0..<n).map { "r\($0)" } + ["clients"], arrows: kept, markers: markers,
                         arrowsMax: beforeMax + afterMax, omitted: focus == nil ? 0 : omitted,
                         focusNs: focus?.time)
        }
    }
}
