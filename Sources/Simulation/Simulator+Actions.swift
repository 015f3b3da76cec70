import BFTCore
import ScenarioFormat

extension Simulator {
    /// Gives one input to a machine and carries out its actions through the runtime contract
    /// (`Runtime.interpret`): every `.persist` of the batch is written first and, when the batch sends
    /// anything or records a promise (a vote or lock: `Observation.isPromise`), synced before anything
    /// else happens; a batch that sends nothing leaves its writes unsynced (a crash before the next sync
    /// loses them). A vote counts even when the replica hands it to itself as the next leader
    /// (HotStuff R1): it is already counted towards a QC, so the safety state it depends on must be as
    /// durable as a vote that left (found by the fuzzer: a crash right after such a vote made the
    /// restarted replica vote again in the same view).
    func handle(machine index: Int, _ input: ReplicaInput) {
        if costed {
            switch input {
            case .message, .timer: return admit(machine: index, input)
            case .start, .recover: break
            }
        }
        var batch = actionBuffer  // always left empty by the previous call
        actionBuffer = []
        machines[index].handle(input, into: &batch)
        var sink = SimulatorSink(simulator: self, index: index)
        Runtime.interpret(batch, sender: principals[index], timers: &timerGenerations[index], into: &sink)
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
        if scheduled != nil {
            // An explicit schedule decides delivery: the message waits for its step.
            if tracing { traceMessage("send", id: id, from: from, to: to, bytes: bytes, describe(bytes), delay: 0) }
            scheduled!.pending.append(.init(from: from, to: to, id: id, bytes: bytes))
            return
        }
        route(bytes, from: from, to: to, id: id)
    }

    /// Hands a sent message to the network model: lost (crashed receiver, loss, a message fault), held,
    /// delayed and possibly duplicated. Also where a schedule's `gst` step releases what it held back.
    /// The message is described only when a trace line needs it: a `MessageInfo?` held across the call
    /// cost a generic value-witness destroy per send (issue 19).
    func route(_ bytes: [UInt8], from: Int, to: Int, id: UInt64) {
        if crashed[to] {
            drops.count(.crashed)
            if tracing { traceMessage("drop", id: id, from: from, to: to, bytes: bytes, describe(bytes), reason: .crashed) }
            return
        }
        var outcome = network.decide(from: node[from], to: node[to], at: now)
        if hosts != nil, outcome.drop == nil { outcome.delay += hosts!.serialise(bytes.count, from: from, now: now) }
        if outcome.drop == nil, !messageFaults.isEmpty, let fault = matchingFault(from: from, to: to, bytes: bytes) {
            switch fault.action {
            case .drop: outcome.drop = .fault
            case .delay: outcome.delay += fault.delay
            case .duplicate: outcome.duplicateDelay = outcome.delay + fault.delay
            case .hold:
                if tracing { traceMessage("send", id: id, from: from, to: to, bytes: bytes, describe(bytes), delay: outcome.delay) }
                schedule(at: max(later(by: outcome.delay), fault.until ?? now),
                         .release(from: Int32(from), to: Int32(to), id: id, bytes: bytes))
                return
            }
        }
        if let reason = outcome.drop {
            drops.count(reason)
            if tracing { traceMessage("drop", id: id, from: from, to: to, bytes: bytes, describe(bytes), reason: reason) }
            return
        }
        if tracing { traceMessage("send", id: id, from: from, to: to, bytes: bytes, describe(bytes), delay: outcome.delay) }
        schedule(at: later(by: outcome.delay), .deliver(from: Int32(from), to: Int32(to), id: id, bytes: bytes))
        if let duplicateDelay = outcome.duplicateDelay {
            messagesDuplicated += 1
            let copy = nextMessageID
            nextMessageID += 1
            if tracing {
                traceMessage("send", id: copy, from: from, to: to, bytes: bytes, describe(bytes), delay: duplicateDelay, duplicateOf: id)
            }
            schedule(at: later(by: duplicateDelay), .deliver(from: Int32(from), to: Int32(to), id: copy, bytes: bytes))
        }
    }

    func onDeliver(from: Int, to: Int, id: UInt64, bytes: [UInt8]) {
        let reason: DropReason?
        if crashed[to] {
            reason = .crashed
        } else if network.isBlocked(from: node[from], to: node[to], at: now) {
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

    /// A held message is released: it is delivered now unless its receiver crashed or is cut off.
    func onRelease(from: Int, to: Int, id: UInt64, bytes: [UInt8]) {
        onDeliver(from: from, to: to, id: id, bytes: bytes)
    }

    /// The first message fault in force that matches a replica-to-replica message.
    func matchingFault(from: Int, to: Int, bytes: [UInt8]) -> MessageFaultSpec? {
        guard let sender = replicaOfMachine[from], let receiver = replicaOfMachine[to] else { return nil }
        messageFaults.removeAll { ($0.until ?? .max) <= now }
        guard !messageFaults.isEmpty else { return nil }
        let info = describe(bytes)
        return messageFaults.first { $0.matches(sender: sender, receiver: receiver, info: info) }
    }

    // MARK: Timers

    func onTimer(machine: Int, timer: TimerID, generation: UInt64) {
        guard !crashed[machine], timerGenerations[machine].fire(timer, generation: generation) else {
            staleTimersSkipped += 1
            return
        }
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
        case .crash(let replica):
            for m in instances.indices.contains(replica) ? instances[replica] : [] { crash(m) }
        case .restart(let replica, let delay):
            for m in instances.indices.contains(replica) ? instances[replica] : [] {
                crash(m)
                schedule(at: later(by: delay), .restart(machine: m))
            }
        case .storageFault(let replica, let lost):
            for m in instances.indices.contains(replica) ? instances[replica] : [] {
                if let lost { storage[m].undoLast(lost) } else { storage[m].loseUnsynced() }
            }
        case .messageFault(let fault):
            messageFaults.append(fault)
        }
        if tracing { traceFault(action) }
    }

    /// The machine takes no more inputs; its armed timers are forgotten; what its storage synced stays,
    /// the unsynced tail is lost.
    func crash(_ index: Int) {
        guard index >= 0, index < machines.count else { return }
        crashed[index] = true
        if hosts != nil {
            hosts!.incarnation[index] &+= 1
            hosts!.disks[index] = HostModel.Disk()
        }
        timerGenerations[index].removeAll()
        storage[index].loseUnsynced()
    }

    /// Rebuilds a crashed replica from its protocol and feeds it what its storage synced.
    func restart(_ index: Int) {
        guard crashed[index], let rebuild else { return }
        machines[index] = rebuild(index)
        crashed[index] = false
        for (tag, b) in scenario.byzantine.enumerated() where b.replica == replicaOfMachine[index] && !b.isAlwaysOn {
            setLayer(machine: index, tag: tag, active: (b.from ?? 0) <= now && now < (b.until ?? .max))
        }
        if tracing {
            var line = TraceLine(kind: "restart", time: now, event: eventIndex)
            line.set("node", names[index])
            line.set("durable_keys", storage[index].synced.count)
            emit(line)
        }
        let (restarted, recover) = Runtime.restartInputs(durable: storage[index].synced)
        onObserve(restarted, by: index)
        handle(machine: index, recover)
    }

    /// Switches one Byzantine layer of a machine built as a `LayeredMachine`.
    func setLayer(machine index: Int, tag: Int, active: Bool) {
        guard var layered = machines[index] as? any LayeredMachine else { return }
        layered.setLayer(tag, active: active)
        if let m = layered as? any StateMachine { machines[index] = m }
    }

    // MARK: Observations

    func onObserve(_ observation: Observation, by index: Int) {
        if case .requestCompleted = observation { requestsCompleted += 1 }
        if case .viewEntered(let view, _) = observation, view > twinsRound, let rounds = scenario.twins?.roundPartitions {
            twinsRound = view
            network.partition(groups: rounds[Int(min(view, UInt64(rounds.count - 1)))])
        }
        observer(ObservationRecord(time: now, eventIndex: eventIndex, source: principals[index], observation: observation))
        if tracing { traceObservation(observation, by: index) }
    }
}

/// The simulator as an `EffectSink`: persists go to the machine's simulated storage, sends through the
/// simulated network, timers into the event queue.
struct SimulatorSink: EffectSink {
    unowned let simulator: Simulator
    let index: Int

    @inline(__always)
    mutating func persist(key: String, bytes: [UInt8]) { simulator.storage[index].write(key, bytes) }

    @inline(__always)
    mutating func sync() {
        if !simulator.storage[index].unsynced.isEmpty { simulator.storage[index].sync() }
    }

    @inline(__always)
    mutating func send(_ bytes: [UInt8], to: Principal) {
        let sim = simulator
        if case .replica(let r) = to, r >= 0, r < sim.replicaCount {
            for target in sim.instances[r] where target != index { sim.send(bytes, from: index, to: target) }
            return
        }
        guard let target = sim.endpoint(of: to) else { return }
        sim.send(bytes, from: index, to: target)
    }

    /// Twins: the other instance of this replica id is a different node and receives it.
    @inline(__always)
    mutating func sendToOtherInstances(_ bytes: [UInt8]) {
        let sim = simulator
        guard case .replica(let r) = sim.principals[index], r >= 0, r < sim.replicaCount else { return }
        for target in sim.instances[r] where target != index { sim.send(bytes, from: index, to: target) }
    }

    @inline(__always)
    mutating func broadcast(_ bytes: [UInt8]) {
        let sim = simulator
        let own = sim.replicaOfMachine[index]
        for r in 0..<sim.replicaCount where r != own {
            for target in sim.instances[r] { sim.send(bytes, from: index, to: target) }
        }
    }

    @inline(__always)
    mutating func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) {
        if simulator.scheduled != nil {
            simulator.scheduled!.timers.append(.init(machine: index, timer: timer, generation: generation, after: after))
            return
        }
        simulator.schedule(at: simulator.later(by: after), .timer(machine: Int32(index), timer: timer, generation: generation))
    }

    @inline(__always)
    mutating func observe(_ observation: Observation) { simulator.onObserve(observation, by: index) }
}
