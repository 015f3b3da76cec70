import BFTCore

// Per-replica diagnosis from observations, for liveness failures.
extension InvariantChecker {
    /// Where each replica stands, sorted by replica id. Available at any point of the run.
    public func diagnosis() -> [ReplicaDiagnosis] {
        // Positions of the retained requests, sorted, so each replica's pending count is a binary search.
        var unexecuted = 0
        var executedAt: [Position] = []
        executedAt.reserveCapacity(requests.count)
        for (_, rec) in requests.entries {
            if let p = rec.position { executedAt.append(p) } else { unexecuted += 1 }
        }
        executedAt.sort()
        return replicas.enumerated().map { r, t in
            var pending = unexecuted + executedAt.count
            if let last = t.lastPosition { pending = unexecuted + executedAt.count - countNotAbove(last, in: executedAt) }
            let executed: UInt64? = [t.lastExecutedSequence, t.stateTransferred].compactMap { $0 }.max()
            return ReplicaDiagnosis(
                replica: r,
                byzantine: !correct[r],
                view: t.view,
                leader: t.leader,
                inViewChange: t.viewChangeTarget != nil,
                viewChangeTarget: t.viewChangeTarget,
                lastExecuted: executed,
                lastCommitted: t.lastCommitted,
                stableCheckpoint: t.stableCheckpoint,
                stateTransferred: t.stateTransferred,
                pendingRequests: pending,
                reportedPendingRequests: t.reportedPending,
                highQCView: t.highQCView,
                lockedView: t.lockedView,
                lastCommittedHeight: t.lastCommittedHeight)
        }
    }

    /// Number of elements of sorted `a` that are `<= p`.
    private func countNotAbove(_ p: Position, in a: [Position]) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if a[mid] <= p { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
