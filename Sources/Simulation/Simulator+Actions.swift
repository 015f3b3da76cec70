import BFTCore
import ScenarioFormat

extension Simulator {
    /// Gives one input to a machine and carries out its actions.
    ///
    /// Ordering contract (see `ReplicaAction`): every `.persist` of the batch is applied before any
    /// other action, then the rest run in the order the machine emitted them.
    func handle(machine index: Int, _ input: ReplicaInput) {
        var batch = actionBuffer
        actionBuffer = []
        batch.removeAll(keepingCapacity: true)
        machines[index].handle(input, into: &batch)
        for action in batch {
            if case .persist(let key, let bytes) = action { durable[index][key] = bytes }
        }
        for action in batch {
            switch action {
            case .persist:
                continue
            case .send(let bytes, let to):
                guard let target = endpoint(of: to) else { continue }
                send(bytes, from: index, to: target)
            case .broadcast(let bytes):
                for r in 0..<replicaCount where r != index { send(bytes, from: index, to: r) }
            case .setTimer(let timer, let after):
                let generation = nextGeneration
                nextGeneration += 1
                timerGenerations[index][timer] = generation
                schedule(at: later(by: after), .timer(machine: Int32(index), timer: timer, generation: generation))
            case .cancelTimer(let timer):
                timerGenerations[index][timer] = nil
            case .observe(let observation):
                onObserve(observation, by: index)
            }
        }
        batch.removeAll(keepingCapacity: true)
        actionBuffer = batch
    }

    /// `now + delay`, saturating (a timer set far in the future simply never fires before the limit).
    @inline(__always)
    func later(by delay: Nanoseconds) -> Nanoseconds {
        let (sum, overflow) = now.addingReportingOverflow(max(0, delay))
        return overflow ? .max : sum
    }

    /// Machine index of a principal, or nil when no such machine exists (the send goes nowhere).
    @inline(__always)
    func endpoint(of principal: Principal) -> Int? {
        let index: Int
        switch principal {
        case .replica(let r):
            guard r >= 0, r < replicaCount else { return nil }
            index = r
        case .client(let c):
            index = replicaCount + c
        }
        return index >= 0 && index < machines.count ? index : nil
    }

    // MARK: Network

    func send(_ bytes: [UInt8], from: Int, to: Int) {
        messagesSent += 1
        bytesSent += bytes.count
        let tag = Int(bytes.first ?? 0)
        sentByTag[tag] += 1
        if nameByTag[tag] == nil { nameByTag[tag] = bytes.isEmpty ? "EMPTY" : describe(bytes).type }
        let id = nextMessageID
        nextMessageID += 1
        let info = tracing ? describe(bytes) : nil
        if crashed[to] {
            drops.count(.crashed)
            if let info { traceMessage("drop", id: id, from: from, to: to, bytes: bytes, info, reason: .crashed) }
            return
        }
        let outcome = network.decide(from: from, to: to, at: now)
        if let reason = outcome.drop {
            drops.count(reason)
            if let info { traceMessage("drop", id: id, from: from, to: to, bytes: bytes, info, reason: reason) }
            return
        }
        if let info { traceMessage("send", id: id, from: from, to: to, bytes: bytes, info, delay: outcome.delay) }
        schedule(at: later(by: outcome.delay), .deliver(from: Int32(from), to: Int32(to), id: id, bytes: bytes))
        if let duplicateDelay = outcome.duplicateDelay {
            messagesDuplicated += 1
            let copy = nextMessageID
            nextMessageID += 1
            if let info {
                traceMessage("send", id: copy, from: from, to: to, bytes: bytes, info, delay: duplicateDelay, duplicateOf: id)
            }
            schedule(at: later(by: duplicateDelay), .deliver(from: Int32(from), to: Int32(to), id: copy, bytes: bytes))
        }
    }

    func onDeliver(from: Int, to: Int, id: UInt64, bytes: [UInt8]) {
        let reason: DropReason?
        if crashed[to] {
            reason = .crashed
        } else if network.isBlocked(from: from, to: to, at: now) {
            reason = .partition
        } else {
            reason = nil
        }
        if let reason {
            drops.count(reason)
            if tracing { traceMessage("drop", id: id, from: from, to: to, bytes: bytes, describe(bytes), reason: reason) }
            return
        }
        messagesDelivered += 1
        deliveredByTag[Int(bytes.first ?? 0)] += 1
        if tracing { traceMessage("deliver", id: id, from: from, to: to, bytes: bytes, describe(bytes)) }
        handle(machine: to, .message(from: principals[from], bytes: bytes))
    }

    // MARK: Timers

    func onTimer(machine: Int, timer: TimerID, generation: UInt64) {
        guard !crashed[machine], timerGenerations[machine][timer] == generation else {
            staleTimersSkipped += 1
            return
        }
        timerGenerations[machine][timer] = nil
        if tracing {
            var line = TraceLine(kind: "timer", time: now, event: eventIndex)
            line.set("node", names[machine])
            line.set("timer", Int(timer.kind))
            line.set("key", timer.key)
            emit(line)
        }
        handle(machine: machine, .timer(timer))
    }

    // MARK: Faults

    /// Applies one timeline action now.
    func onTimeline(_ action: TimelineAction) {
        switch action {
        case .partition(let groups): network.partition(groups: groups)
        case .isolate(let replica): network.isolate(replica)
        case .cutLink(let from, let to, let oneWay): network.cutLink(from: from, to: to, oneWay: oneWay)
        case .heal: network.heal()
        case .setLatency(let from, let to, let latency): network.setLatency(from: from, to: to, latency)
        case .setLoss(let from, let to, let loss): network.setLoss(from: from, to: to, loss)
        case .crash(let replica): crash(replica)
        }
        if tracing { traceFault(action) }
    }

    /// The machine takes no more inputs; its armed timers are forgotten; its durable state stays.
    func crash(_ index: Int) {
        guard index >= 0, index < machines.count else { return }
        crashed[index] = true
        timerGenerations[index] = [:]
    }

    // MARK: Observations

    func onObserve(_ observation: Observation, by index: Int) {
        if case .requestCompleted = observation { requestsCompleted += 1 }
        observer(ObservationRecord(time: now, eventIndex: eventIndex, source: principals[index], observation: observation))
        if tracing { traceObservation(observation, by: index) }
    }
}
