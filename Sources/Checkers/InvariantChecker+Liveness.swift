import BFTCore

// Liveness: every issued request completes by max(issue, livenessFrom) + livenessBound.
extension InvariantChecker {
    func deadline(issuedAt t: Nanoseconds) -> Nanoseconds {
        max(t, config.livenessFrom) + config.livenessBound
    }

    /// Called when a record is later than the earliest outstanding deadline.
    func checkDeadlines(at record: ObservationRecord) {
        advanceHead()
        guard outstandingHead < issueOrder.count else { return }
        let q = issueOrder[outstandingHead]
        guard let rec = requests[q], deadline(issuedAt: rec.issueTime) < record.time else { return }
        livenessViolationIndex = report(.liveness, record, livenessMessage(q, rec, detectedAt: record.time))
        // One online liveness violation per run; `finish` counts the other overdue requests.
        nextDeadline = .max
    }

    /// Skips completed requests at the head of the issue order and refreshes `nextDeadline`.
    func advanceHead() {
        while outstandingHead < issueOrder.count {
            let q = issueOrder[outstandingHead]
            guard let rec = requests[q], rec.accepted == nil else {
                outstandingHead += 1
                continue
            }
            break
        }
        if outstandingHead >= 1024, outstandingHead * 2 >= issueOrder.count {
            issueOrder.removeFirst(outstandingHead)
            outstandingHead = 0
        }
        refreshDeadline()
    }

    func refreshDeadline() {
        guard livenessViolationIndex == nil, outstandingHead < issueOrder.count,
              let rec = requests[issueOrder[outstandingHead]] else {
            nextDeadline = .max
            return
        }
        nextDeadline = deadline(issuedAt: rec.issueTime)
    }

    /// Outstanding requests whose deadline is before `endTime`, in issue (= deadline) order.
    func overdueRequests(at endTime: Nanoseconds) -> [(id: RequestID, record: RequestRecord)] {
        var out: [(id: RequestID, record: RequestRecord)] = []
        for q in issueOrder[outstandingHead...] {
            guard let rec = requests[q], rec.accepted == nil else { continue }
            if deadline(issuedAt: rec.issueTime) < endTime { out.append((q, rec)) }
        }
        return out
    }

    func livenessMessage(_ q: RequestID, _ rec: RequestRecord, detectedAt t: Nanoseconds) -> String {
        let from = max(rec.issueTime, config.livenessFrom)
        let measured = rec.issueTime < config.livenessFrom ? ", measured from livenessFrom \(formatTime(from))" : ""
        let executed = rec.position.map { "executed at \($0) by r\(rec.executor) but " } ?? "never executed by a correct replica and "
        return "\(q) issued at \(formatTime(rec.issueTime)) was \(executed)not completed by its deadline "
            + "\(formatTime(deadline(issuedAt: rec.issueTime))) (bound \(formatTime(config.livenessBound))\(measured)); "
            + "still outstanding at \(formatTime(t))"
    }

    func overdueTail(overdue: Int, endTime: Nanoseconds) -> String {
        var s = "; at the end (\(formatTime(endTime))) \(overdue) request\(overdue == 1 ? " was" : "s were") overdue"
        if lateCompletions > 0 { s += " and \(lateCompletions) completed late" }
        return s
    }
}
