import BFTCore
import DequeModule
import ScenarioFormat

/// Hosts, cores and links of a run that models processing costs or bandwidth (issue 15).
///
/// Each machine (replica, client, twin) runs on one host. A host has `cores`; a machine handles one
/// input at a time, on one core. An input that finds its machine busy or every core of its host taken
/// waits in the host's FIFO queue, so queueing at a busy host comes out of the event order itself
/// (BFTSim, NSDI'08, §3). A handler's outputs leave when its CPU time has been spent. Each host has one
/// outgoing link: messages are serialised on it back to back at `bandwidth`.
///
/// **Storage is group-committed, as the live host does it** (`ReplicaHost.flushOutput`): each machine has
/// one sync in flight at a time, taking `sync`; it holds neither a core nor the machine, which goes on
/// handling input. A batch that persists while a sync is in flight waits for the next sync, which takes
/// every batch that persisted meanwhile (one `sync` for all of them). A batch's actions (its sends) are
/// carried out when every persist issued up to it is durable, in production order, so a batch that
/// persists nothing but comes after one that does waits with it (persist-before-send, `ReplicaAction`).
///
/// Built only when the scenario gives `costs` or `network.bandwidth`; without them the simulator never
/// touches this type, and traces are those of a cost-free run byte for byte.
struct HostModel {
    /// One input waiting for a core.
    struct Waiting {
        var machine: Int
        var input: ReplicaInput
        /// What it found on arrival (`HostModel.Wake`).
        var woke: Wake
    }

    /// What a message found when it arrived: an idle machine (its event loop asleep: `CostTable.wakeup`)
    /// and, for a replica's message, an idle verification thread (`CostTable.handoff`).
    struct Wake: OptionSet {
        let rawValue: UInt8
        static let loop = Wake(rawValue: 1)
        static let verifier = Wake(rawValue: 2)
    }

    /// Most inputs a host queue holds; past it an input is dropped and counted (an overloaded host,
    /// a sign that the offered load is far beyond capacity).
    static let waitingMax = 1 << 20

    let costs: CostTable?
    let scheme: SignatureScheme
    let bandwidth: Int64?
    /// Host of each machine index.
    let hostOf: [Int]
    let cores: [Int]
    /// Replica count: a broadcast is this many sends, less one.
    let replicaCount: Int
    var coresFree: [Int]
    var busy: [Bool]
    /// Per machine: when the live host's verification thread would be idle again, i.e. the end of
    /// the last replica message's handling (`CostTable.handoff`). A replica message that arrives
    /// before then finds the thread awake and pays no hand-off.
    var verifierBusyUntil: [Nanoseconds]
    /// Bumped on every crash, so the completion of a handler started before it is discarded.
    var incarnation: [UInt32]
    var waiting: [Deque<Waiting>]
    /// When each host's link is free again.
    var linkFree: [Nanoseconds]
    /// CPU time spent per host, ns.
    var busyTime: [Nanoseconds]
    /// Per host: time its link spent serialising bytes (the link's service demand).
    var linkBusyTime: [Nanoseconds]
    /// Picoseconds not yet charged per host (costs are charged in whole nanoseconds, the rest carried).
    var carry: [Picoseconds]
    /// Fixed message cost per wire tag, resolved from the type name on first sight.
    var costByTag: [Picoseconds?] = Array(repeating: nil, count: 256)
    /// Inputs dropped per host because its queue was full.
    var dropped: [Int]
    /// Per machine: the batches waiting for the sync in flight, and those waiting for the next one.
    var disks: [Disk]
    /// Syncs started per host (one per group commit).
    var syncs: [Int]
    /// When each host's disk is free again: the syncs of the machines on one host queue for it (four
    /// replicas on one machine that all vote at once sync one after another, as one device serves them).
    var diskFree: [Nanoseconds]

    /// A machine's storage queue under group commit.
    struct Disk {
        /// Batches whose persists the sync in flight makes durable (and batches after them that
        /// persist nothing), in production order; nil when no sync is in flight.
        var inFlight: [[ReplicaAction]]?
        /// Batches that wait for the next sync (the first of them persists).
        var next: [[ReplicaAction]] = []
    }

    /// Places machines on hosts: the scenario's `hosts`, then a one-core host of its own for each
    /// machine left out. Twins share their original's host.
    init(scenario: Scenario, machineCount: Int, clientCount: Int, twinned: [Int]) {
        let n = scenario.replicas
        var hostOf = [Int](repeating: -1, count: machineCount)
        var cores: [Int] = []
        for (h, spec) in scenario.hosts.enumerated() {
            cores.append(spec.cores)
            for r in spec.replicas where r < n { hostOf[r] = h }
            let clients = spec.allClients ? Array(0..<clientCount) : spec.clients
            for c in clients where c < clientCount { hostOf[n + c] = h }
        }
        for i in 0..<min(machineCount, n + clientCount) where hostOf[i] < 0 {
            hostOf[i] = cores.count
            cores.append(1)
        }
        for (k, r) in twinned.enumerated() where n + clientCount + k < machineCount {
            hostOf[n + clientCount + k] = hostOf[r]
        }
        self.costs = scenario.costs
        self.scheme = scenario.costs?.scheme ?? scenario.crypto
        self.bandwidth = scenario.network.bandwidth
        self.hostOf = hostOf
        self.cores = cores
        self.replicaCount = n
        coresFree = cores
        busy = Array(repeating: false, count: machineCount)
        verifierBusyUntil = Array(repeating: 0, count: machineCount)
        incarnation = Array(repeating: 0, count: machineCount)
        waiting = Array(repeating: Deque(), count: cores.count)
        linkFree = Array(repeating: 0, count: cores.count)
        busyTime = Array(repeating: 0, count: cores.count)
        linkBusyTime = Array(repeating: 0, count: cores.count)
        carry = Array(repeating: 0, count: cores.count)
        dropped = Array(repeating: 0, count: cores.count)
        disks = Array(repeating: Disk(), count: machineCount)
        syncs = Array(repeating: 0, count: cores.count)
        diskFree = Array(repeating: 0, count: cores.count)
    }

    /// Whether `machine` can start handling an input now.
    func canStart(_ machine: Int) -> Bool { !busy[machine] && coresFree[hostOf[machine]] > 0 }

    /// What a message arriving at `machine` now wakes: its event loop unless the machine is handling an
    /// input at this moment, and for a replica's message its verification thread when that is past its
    /// last job. Timers wake nothing (the loop's own deadline). An input that waits in the host queue
    /// for a core still counts as waking its machine: the queue stands for the kernel's run queue, and
    /// its process slept until the message came (the rule that matched the live rows; counting queued
    /// machines as awake under-charged every light point by 20–50 %).
    func wakes(_ machine: Int, _ input: ReplicaInput, now: Nanoseconds) -> Wake {
        guard case .message(let from, _) = input else { return [] }
        var wake: Wake = []
        if !busy[machine] { wake.insert(.loop) }
        if case .replica = from, now >= verifierBusyUntil[machine] { wake.insert(.verifier) }
        return wake
    }

    /// CPU time of one handled input and the batch it produced, in picoseconds.
    mutating func cost(of input: ReplicaInput, batch: [ReplicaAction], signed: Int, verified: Int,
                       describe: MessageDescriber) -> Picoseconds {
        let split = costs(of: input, batch: batch, signed: signed, verified: verified, describe: describe)
        return split.cpu + split.io
    }

    /// The same split into CPU time (holds a core and the machine) and storage time (the sync before
    /// the batch's messages leave: group-committed, holds neither). `woke`: what the input woke on arrival
    /// (`CostTable.wakeup`, `CostTable.handoff`).
    mutating func costs(of input: ReplicaInput, batch: [ReplicaAction], signed: Int, verified: Int,
                        describe: MessageDescriber, woke: Wake = []) -> (cpu: Picoseconds, io: Picoseconds) {
        guard let c = costs else { return (0, 0) }
        var ps: Picoseconds = 0
        switch input {
        case .message(_, let bytes):
            let tag = Int(bytes.first ?? 0)
            if costByTag[tag] == nil { costByTag[tag] = bytes.isEmpty ? c.messageDefault : c.message(describe(bytes).type) }
            ps += costByTag[tag]! + c.byte * Picoseconds(bytes.count)
            if woke.contains(.loop) { ps += c.wakeup }
            if woke.contains(.verifier) { ps += c.handoff }
        case .timer:
            ps += c.timer
        default:
            break
        }
        var persists = false
        for action in batch {
            switch action {
            case .persist:
                persists = true
            case .send(let bytes, _):
                ps += c.send + c.byte * Picoseconds(bytes.count)
            case .broadcast(let bytes):
                ps += (c.send + c.byte * Picoseconds(bytes.count)) * Picoseconds(max(0, replicaCount - 1))
            case .observe(.executed):
                ps += c.execute
            default:
                break
            }
        }
        ps += c.sign[scheme] * Picoseconds(signed) + c.verify[scheme] * Picoseconds(verified)
        return (ps, persists ? c.sync : 0)
    }

    /// Takes a core of `machine`'s host for `picos`; returns the whole nanoseconds to charge.
    mutating func occupy(_ machine: Int, picos: Picoseconds) -> Nanoseconds {
        let h = hostOf[machine]
        coresFree[h] -= 1
        busy[machine] = true
        let total = carry[h] + picos
        carry[h] = total % 1000
        busyTime[h] += total / 1000
        return total / 1000
    }

    mutating func releaseCore(_ machine: Int) { coresFree[hostOf[machine]] += 1 }

    mutating func releaseMachine(_ machine: Int) { busy[machine] = false }

    /// Serialises `byteCount` bytes on the sender's link; returns how long after `now` the last bit leaves.
    mutating func serialise(_ byteCount: Int, from machine: Int, now: Nanoseconds) -> Nanoseconds {
        guard let bps = bandwidth, bps > 0 else { return 0 }
        let h = hostOf[machine]
        let bits = Int64(min(byteCount, 1 << 30)) * 8
        // ceil(bits · 10^9 / bps) without overflow: bits < 2^33, 10^9 < 2^30.
        let duration = (bits * 1_000_000_000 + bps - 1) / bps
        let start = max(now, linkFree[h])
        linkFree[h] = start + duration
        linkBusyTime[h] += duration
        return linkFree[h] - now
    }
}

extension Simulator {
    /// A costed input: handled now when its machine and a core of its host are free, else queued.
    func admit(machine index: Int, _ input: ReplicaInput) {
        let woke = hosts!.wakes(index, input, now: now)
        if hosts!.canStart(index) { return start(machine: index, input, woke: woke) }
        let h = hosts!.hostOf[index]
        guard hosts!.waiting[h].count < HostModel.waitingMax else {
            hosts!.dropped[h] += 1
            return
        }
        hosts!.waiting[h].append(.init(machine: index, input: input, woke: woke))
    }

    /// Runs the handler now (its state changes now; nothing else can reach the machine until its CPU
    /// time is spent), charges that time and hands its actions on when it is spent.
    func start(machine index: Int, _ input: ReplicaInput, woke: HostModel.Wake) {
        let before = cryptoCounter?() ?? (signed: 0, verified: 0)
        var batch: [ReplicaAction] = []
        machines[index].handle(input, into: &batch)
        let after = cryptoCounter?() ?? (signed: 0, verified: 0)
        let split = hosts!.costs(of: input, batch: batch, signed: after.signed - before.signed,
                                 verified: after.verified - before.verified, describe: describe, woke: woke)
        // A batch that persists while no sync is in flight starts one (group commit): the IO thread's
        // hand-off and the sync's system calls (`CostTable.handoff`, `syncCPU`) are spent on this host.
        let syncCPU = split.io > 0 && hosts!.disks[index].inFlight == nil ? hosts!.costs!.handoff + hosts!.costs!.syncCPU : 0
        let cpu = hosts!.occupy(index, picos: split.cpu + syncCPU)
        if case .message(.replica, _) = input { hosts!.verifierBusyUntil[index] = max(hosts!.verifierBusyUntil[index], now) + cpu }
        schedule(at: later(by: cpu), .complete(machine: Int32(index), incarnation: hosts!.incarnation[index],
                                              actions: batch, syncs: split.io > 0))
    }

    /// A handler's CPU time is spent: the core and the machine are free again, and its actions take
    /// effect now, or when the persists issued up to them are durable (group commit), unless the
    /// machine crashed meanwhile.
    func onComplete(machine index: Int, incarnation: UInt32, _ batch: [ReplicaAction], syncs: Bool) {
        hosts!.releaseCore(index)
        hosts!.releaseMachine(index)
        if !crashed[index], hosts!.incarnation[index] == incarnation {
            if hosts!.disks[index].inFlight == nil {
                if syncs {
                    hosts!.disks[index].inFlight = [batch]
                    startSync(machine: index)
                } else {
                    carryOut(batch, machine: index)
                }
            } else if syncs || !hosts!.disks[index].next.isEmpty {
                hosts!.disks[index].next.append(batch)
            } else {
                hosts!.disks[index].inFlight!.append(batch)
            }
        }
        startWaiting(host: hosts!.hostOf[index])
    }

    /// One sync of everything the machine persisted and has not synced: `sync` on the host's disk once
    /// the syncs queued before it are done, plus the IO thread's hand-off (`CostTable.handoff`).
    func startSync(machine index: Int) {
        let h = hosts!.hostOf[index]
        hosts!.syncs[h] += 1
        let begin = max(now, hosts!.diskFree[h])
        hosts!.diskFree[h] = begin + Nanoseconds(hosts!.costs!.sync / 1000)
        let done = hosts!.diskFree[h] + Nanoseconds(hosts!.costs!.handoff / 1000)
        schedule(at: done, .synced(machine: Int32(index), incarnation: hosts!.incarnation[index]))
    }

    /// The sync in flight is done: its batches take effect in order, and the batches that waited
    /// start the next sync together.
    func onSynced(machine index: Int, incarnation: UInt32) {
        guard !crashed[index], hosts!.incarnation[index] == incarnation, let done = hosts!.disks[index].inFlight else { return }
        hosts!.disks[index].inFlight = nil
        for batch in done { carryOut(batch, machine: index) }
        guard !hosts!.disks[index].next.isEmpty, !crashed[index] else { return }
        hosts!.disks[index].inFlight = hosts!.disks[index].next
        hosts!.disks[index].next = []
        startSync(machine: index)
    }

    private func carryOut(_ batch: [ReplicaAction], machine index: Int) {
        var sink = SimulatorSink(simulator: self, index: index)
        Runtime.interpret(batch, sender: principals[index], timers: &timerGenerations[index], into: &sink)
    }

    /// Starts waiting inputs, oldest first, while the host has a free core and their machines are free.
    func startWaiting(host h: Int) {
        while hosts!.coresFree[h] > 0, let next = hosts!.waiting[h].firstIndex(where: { !hosts!.busy[$0.machine] }) {
            let w = hosts!.waiting[h].remove(at: next)
            if crashed[w.machine] { continue }
            start(machine: w.machine, w.input, woke: w.woke)
        }
    }

    /// Per host: cores, machines, CPU time spent and utilisation over the run so far.
    func hostUsage() -> [SimulationResult.HostUsage] {
        guard let hosts else { return [] }
        let span = Double(max(1, now))
        return hosts.cores.indices.map { h in
            SimulationResult.HostUsage(
                cores: hosts.cores[h], machines: hosts.hostOf.indices.filter { hosts.hostOf[$0] == h }.map { names[$0] },
                busy: hosts.busyTime[h], linkBusy: hosts.linkBusyTime[h], dropped: hosts.dropped[h], syncs: hosts.syncs[h],
                utilisation: min(1, Double(hosts.busyTime[h]) / (span * Double(hosts.cores[h]))))
        }
    }
}
