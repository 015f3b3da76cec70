import BFTCore

// Safety checks: agreement, validity, integrity, total order, client result.
extension InvariantChecker {
    func onCommitted(
        _ r: ReplicaID, sequence s: UInt64, view: UInt64, digest: Digest, count: Int, _ record: ObservationRecord
    ) {
        replicas[r].lastCommitted = max(replicas[r].lastCommitted ?? 0, s)
        guard correct[r] else { return }
        replicas[r].pass(s)
        guard s >= windowFloor else { return }
        if let first = commits[s] {
            checkCommitAgreement(r, sequence: s, view: view, digest: digest, count: count, first: first, record)
            return
        }
        noteSequence(s)  // prunes first, so the ring never holds more than the window
        commits[at: commits.claim(s)] = CommitEntry(digest: digest, requestCount: count, view: view, replica: r)
        committedBatches += 1
    }

    private func checkCommitAgreement(
        _ r: ReplicaID, sequence s: UInt64, view: UInt64, digest: Digest, count: Int,
        first: CommitEntry, _ record: ObservationRecord
    ) {
        if first.digest != digest {
            if first.replica == r {
                report(.agreement, record, "r\(r) committed two batches at seq \(s): \(first.digest) (view \(first.view)) "
                    + "and then \(digest) (view \(view))")
            } else {
                report(.agreement, record, "r\(r) committed batch \(digest) at seq \(s) (view \(view)) "
                    + "but r\(first.replica) committed \(first.digest) there (view \(first.view))")
            }
        } else if first.requestCount != count {
            report(.agreement, record, "r\(r) committed batch \(digest) at seq \(s) with \(count) requests "
                + "but r\(first.replica) committed it with \(first.requestCount)")
        }
    }

    func onExecuted(
        _ r: ReplicaID, at p: Position, request q: RequestID, requestDigest d: Digest, result: Digest,
        _ record: ObservationRecord
    ) {
        let previous = replicas[r].lastPosition
        replicas[r].lastPosition = max(previous ?? p, p)
        replicas[r].lastExecutedSequence = max(replicas[r].lastExecutedSequence ?? 0, p.sequence)
        guard correct[r] else { return }
        checkOrder(r, at: p, request: q, previous: previous, record)
        checkIndex(r, at: p, record)
        if p.sequence >= windowFloor {
            checkPositionAgreement(r, at: p, request: q, requestDigest: d, result: result, record)
        } else {
            uncheckedExecutions += 1
        }
        checkRequest(r, at: p, request: q, requestDigest: d, result: result, record)
    }

    /// Total order (1) strictly increasing positions and (2) no gaps.
    private func checkOrder(
        _ r: ReplicaID, at p: Position, request q: RequestID, previous: Position?, _ record: ObservationRecord
    ) {
        if let last = previous, p <= last {
            if last.index == Int.max {
                report(.totalOrder, record, "r\(r) executed \(q) at \(p) after its state transfer to seq "
                    + "\(last.sequence): executions must resume above the transferred sequence")
            } else {
                report(.totalOrder, record, "r\(r) executed \(q) at \(p) after \(last): a replica's executions "
                    + "must be strictly increasing in (sequence, index)")
            }
        }
        let passed = replicas[r].passed
        if p.sequence > passed &+ 1 {
            let missing = p.sequence - 1 == passed + 1 ? "seq \(passed + 1)" : "seqs \(passed + 1)...\(p.sequence - 1)"
            report(.totalOrder, record, "r\(r) executed \(q) at \(p) but never executed, committed or "
                + "state-transferred \(missing) (gap-free through seq \(passed))")
            replicas[r].jump(to: p.sequence)
        } else {
            replicas[r].pass(p.sequence)
        }
    }

    /// Total order (3): the index lies inside the batch committed at that sequence.
    private func checkIndex(_ r: ReplicaID, at p: Position, _ record: ObservationRecord) {
        guard let batch = commits[p.sequence] else { return }
        if p.index < 0 || p.index >= batch.requestCount {
            report(.totalOrder, record, "r\(r) executed entry #\(p.index) of the batch at seq \(p.sequence), "
                + "which holds \(batch.requestCount) requests (digest \(batch.digest))")
        }
    }

    private func checkPositionAgreement(
        _ r: ReplicaID, at p: Position, request q: RequestID, requestDigest d: Digest, result: Digest,
        _ record: ObservationRecord
    ) {
        guard let first = positions[p] else {
            noteSequence(p.sequence)  // prunes first, so the ring never holds more than the window
            positions.insert(ExecutionEntry(request: q, requestDigest: d, result: result, replica: r), at: p)
            return
        }
        if first.request != q {
            report(.agreement, record, "r\(r) executed \(q) at \(p) but r\(first.replica) executed \(first.request) there")
        } else if first.requestDigest != d {
            report(.agreement, record, "r\(r) executed \(q) at \(p) with request digest \(d) but r\(first.replica) "
                + "executed it with request digest \(first.requestDigest)")
        } else if first.result != result {
            let (mine, theirs) = Self.distinguishable(result, first.result)
            report(.agreement, record, "r\(r) executed \(q) at \(p) with result \(mine) but r\(first.replica) "
                + "produced \(theirs): replica states diverged")
        }
    }

    /// Two different digests in hex, as many digits as it takes to tell them apart (at least the usual 8):
    /// short results are stored inline (`Digest.fingerprint(ofResult:)`) and often share their first bytes.
    static func distinguishable(_ a: Digest, _ b: Digest) -> (String, String) {
        let x = a.hex, y = b.hex
        let common = zip(x, y).prefix { $0 == $1 }.count
        let digits = max(8, common + 2)
        return (String(x.prefix(digits)), String(y.prefix(digits)))
    }

    /// Validity, integrity and (for the first execution) client result.
    private func checkRequest(
        _ r: ReplicaID, at p: Position, request q: RequestID, requestDigest d: Digest, result: Digest,
        _ record: ObservationRecord
    ) {
        guard let slot = requests.slot(of: q) else {
            if retired[q.client]?.contains(q.timestamp) == true {
                if p.sequence >= windowFloor {
                    report(.integrity, record, "r\(r) executed \(q) at \(p) but it was already executed below seq "
                        + "\(windowFloor) and completed: a request must hold one position of the order")
                }
                return
            }
            report(.validity, record, "r\(r) executed \(q) (request digest \(d)) at \(p) but client c\(q.client) never issued it")
            return
        }
        let rec = requests[slot: slot]
        if rec.digest != d {
            report(.validity, record, "r\(r) executed \(q) at \(p) with request digest \(d) but client "
                + "c\(q.client) issued it with digest \(rec.digest)")
        }
        if let first = rec.position {
            guard first != p else { return }
            if rec.executor == r {
                report(.integrity, record, "r\(r) executed \(q) twice: at \(first) and again at \(p)")
            } else {
                report(.integrity, record, "r\(r) executed \(q) at \(p) but r\(rec.executor) executed it at \(first): "
                    + "a request must hold one position of the order, else a replica executing both runs it twice")
            }
            return
        }
        // In place: one hash lookup per execution.
        requests[slot: slot].position = p
        requests[slot: slot].executor = r
        requests[slot: slot].result = result
        executedRequests += 1
        if let accepted = rec.accepted, accepted != result {
            report(.clientResult, record, "r\(r) executed \(q) at \(p) with result \(result) but client c\(q.client) "
                + "had accepted result \(accepted)")
        }
    }

    func onStateTransferred(_ r: ReplicaID, sequence s: UInt64) {
        replicas[r].stateTransferred = s
        let resume = Position(sequence: s, index: .max)
        replicas[r].lastPosition = max(replicas[r].lastPosition ?? resume, resume)
        guard correct[r] else { return }
        replicas[r].jump(to: s)
    }

    func onRequestIssued(_ q: RequestID, digest: Digest, _ record: ObservationRecord) {
        guard requests[q] == nil, retired[q.client]?.contains(q.timestamp) != true else { return }
        requests.insert(q, RequestRecord(digest: digest, issueTime: record.time))
        issuedRequests += 1
        issueOrder.append(q)
        if issueOrder.count - outstandingHead == 1 { refreshDeadline() }
    }

    func onRequestCompleted(_ q: RequestID, result: Digest, _ record: ObservationRecord) {
        guard let slot = requests.slot(of: q), requests[slot: slot].accepted == nil else { return }
        requests[slot: slot].accepted = result
        requests[slot: slot].completeTime = record.time
        let rec = requests[slot: slot]
        completedRequests += 1
        if config.recordsLatencies { latencies.record(record.time - rec.issueTime) }
        if deadline(issuedAt: rec.issueTime) < record.time { lateCompletions += 1 }
        if let produced = rec.result, produced != result {
            report(.clientResult, record, "c\(q.client) accepted result \(result) for \(q) but correct replica "
                + "r\(rec.executor) produced \(produced) executing it at \(rec.position!)")
        }
        if outstandingHead < issueOrder.count, issueOrder[outstandingHead] == q { advanceHead() }
    }

    /// Raises the highest sequence and prunes the window when it has moved a quarter window on.
    func noteSequence(_ s: UInt64) {
        guard s > highestSequence else { return }
        highestSequence = s
        let retained = config.retainedSequences
        guard highestSequence >= windowFloor &+ retained &+ retained / 4, highestSequence > retained else { return }
        prune(below: highestSequence - retained)
    }

    /// Drops per-sequence state below `floor` and retires completed requests positioned below it.
    func prune(below floor: UInt64) {
        windowFloor = floor
        commits.removeAll(below: floor)
        positions.removeAll(below: floor)
        var retiring: [RequestID] = []
        for (q, rec) in requests.entries where rec.accepted != nil {
            if let p = rec.position, p.sequence < floor { retiring.append(q) }
        }
        retiring.sort()
        for q in retiring {
            requests.remove(q)
            retired[q.client, default: IntervalSet()].insert(q.timestamp)
        }
    }
}

extension ReplicaTrack {
    /// Marks every sequence up to `s` as passed (state transfer, or resynchronising after a reported gap).
    mutating func jump(to s: UInt64) {
        guard s > passed else { return }
        passed = s
        if !committedAhead.isEmpty {
            committedAhead = committedAhead.filter { $0 > s }
            drain()
        }
    }
}
